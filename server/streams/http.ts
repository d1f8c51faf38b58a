import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { readBody } from './body'
import { isInertContentType, isTextContentType } from './content-type'
import { jsonArrayBody } from './json'
import { nextCursor } from './cursor'
import { describeError } from '../errors'
import { StreamError, badRequest } from './errors'
import { formatOffset } from './offsets'
import { header, parseExpiry, parseFork, parseProducer, parseReadQuery, parseStreamSeq, wantsClose } from './request'
import type { ReadQuery } from './request'
import { ClientSlots } from './client-slots'
import { SseConnection } from './sse'
import type { SseOptions } from './sse'
import type { ReadOptions, ReadResult, StreamChange, StreamChunk, StreamInfo, StreamStore } from './store'

export interface StreamHttpOptions {
  /** URL prefix of every stream, e.g. `/v1/stream/`. */
  basePath: string
  longPollTimeoutMs: number
  /** Largest catch-up response body; larger reads are paginated. */
  readChunkBytes: number
  maxAppendBytes: number
  maxPathLength: number
  /** `Access-Control-Allow-Origin` for protocol responses. */
  corsOrigin: string
  sse: Omit<SseOptions, 'chunkBytes'>
  /** Caps on live reads (SSE and long-poll together) open at once: per client, and in total. */
  maxLiveReads: { perClient: number, total: number }
  /** The client a request counts against (per-client caps). */
  clientOf: (req: IncomingMessage) => string
  /** Whether a write request carries the right credentials. */
  authorizeWrite: (req: IncomingMessage) => boolean
}

/** When a client refused a live read may try again (seconds). */
const LIVE_READ_RETRY_AFTER = '5'

const EXPOSED_HEADERS = [
  'Stream-Next-Offset', 'Stream-Cursor', 'Stream-Up-To-Date', 'Stream-Closed', 'Stream-SSE-Data-Encoding',
  'Stream-TTL', 'Stream-Expires-At', 'Producer-Epoch', 'Producer-Seq', 'Producer-Expected-Seq',
  'Producer-Received-Seq', 'ETag', 'Location', 'Content-Type', 'Retry-After',
].join(', ')

const ALLOWED_REQUEST_HEADERS = [
  'Authorization', 'Content-Type', 'If-None-Match', 'Stream-TTL', 'Stream-Expires-At', 'Stream-Seq',
  'Stream-Closed', 'Stream-Forked-From', 'Stream-Fork-Offset', 'Stream-Fork-Sub-Offset',
  'Producer-Id', 'Producer-Epoch', 'Producer-Seq',
].join(', ')

const PATH_SEGMENT_FORBIDDEN = /[\u0000-\u001F\u007F]/

/**
 * The Durable Streams protocol over Node's request/response: headers in, store calls, status
 * and headers out. Framework-free, so the Nitro route is a one-line adapter.
 */
export class StreamHttpHandler {
  private readonly baseHeaders: OutgoingHttpHeaders
  private readonly liveReaders = new Set<() => void>()
  private readonly liveReadSlots: ClientSlots
  /** Catch-up reads may cut a byte stream anywhere (text at a character boundary), never a JSON message. */
  private readonly catchUpOptions: ReadOptions
  /** Set on shutdown: live reads answer at once instead of waiting, so connections can drain. */
  private closing = false

  constructor(private readonly store: StreamStore, private readonly options: StreamHttpOptions) {
    this.liveReadSlots = new ClientSlots(options.maxLiveReads.perClient, options.maxLiveReads.total)
    this.catchUpOptions = { maxBytes: options.readChunkBytes, cutText: true }
    // A stream is data, never a page of this origin: no sniffing, and a document that is opened
    // anyway runs in a sandbox with no script, no origin and nothing loaded.
    this.baseHeaders = {
      'x-content-type-options': 'nosniff',
      'content-security-policy': 'sandbox; default-src \'none\'',
      'cross-origin-resource-policy': 'cross-origin',
      'access-control-allow-origin': options.corsOrigin,
      'access-control-expose-headers': EXPOSED_HEADERS,
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      const path = this.streamPath(url.pathname)
      switch (req.method) {
        case 'GET': return await this.get(req, res, path, url)
        case 'HEAD': return await this.head(res, path)
        case 'PUT': return await this.put(req, res, path, url)
        case 'POST': return await this.post(req, res, path)
        case 'DELETE': return await this.remove(req, res, path)
        case 'OPTIONS': return this.preflight(req, res)
        default: return this.send(res, 405, { allow: 'GET, HEAD, PUT, POST, DELETE, OPTIONS' }, `Method ${req.method} is not supported on streams`)
      }
    }
    catch (error) {
      this.sendError(req, res, error)
    }
  }

  /** Ends every long-poll and SSE connection (server shutdown); readers reconnect elsewhere. */
  closeLiveReaders(): void {
    this.closing = true
    for (const end of [...this.liveReaders]) end()
  }

  // ---------------------------------------------------------------------------------------------

  private async get(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
    const query = parseReadQuery(url.searchParams)
    if (!query.live) {
      const result = await this.store.read(path, query.from, this.catchUpOptions)
      return this.sendRead(req, res, result, query.from.kind === 'now', undefined)
    }
    const release = this.takeLiveRead(req)
    if (query.live === 'sse') {
      try {
        // The connection releases the slot when it ends.
        await this.sse(res, path, query, release)
      }
      catch (error) {
        release()
        throw error
      }
      return
    }
    try {
      await this.longPoll(res, path, query)
    }
    finally {
      release()
    }
  }

  /** A slot for one more live read of this client, or 429 (its own cap) / 503 (the server's). */
  private takeLiveRead(req: IncomingMessage): () => void {
    const slot = this.liveReadSlots.take(this.options.clientOf(req))
    const retry = { 'retry-after': LIVE_READ_RETRY_AFTER }
    if (slot === 'client') {
      throw new StreamError('rate_limited', `This client already has ${this.options.maxLiveReads.perClient} live reads open (SSE and long-poll together), `
        + `the most NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS_PER_CLIENT allows: close one, or retry in ${LIVE_READ_RETRY_AFTER} s`, retry)
    }
    if (slot === 'server') {
      throw new StreamError('unavailable', `The server has ${this.options.maxLiveReads.total} live reads open, `
        + `the most NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS allows: retry in ${LIVE_READ_RETRY_AFTER} s`, retry)
    }
    return slot
  }

  private async head(res: ServerResponse, path: string): Promise<void> {
    const stream = await this.store.head(path)
    const headers: OutgoingHttpHeaders = {
      'content-type': stream.contentType,
      'stream-next-offset': formatOffset(stream.tailPos),
      'cache-control': 'no-store',
    }
    if (stream.ttlSeconds !== null) headers['stream-ttl'] = String(stream.ttlSeconds)
    if (stream.expiresAt !== null) headers['stream-expires-at'] = new Date(stream.expiresAt).toISOString()
    if (stream.closed) headers['stream-closed'] = 'true'
    this.send(res, 200, headers)
  }

  private async put(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
    this.requireWriteAccess(req)
    const fork = parseFork(req.headers, from => this.streamPath(from))
    const expiry = parseExpiry(req.headers)
    const body = await readBody(req, this.options.maxAppendBytes)
    const { created, stream } = await this.store.create(path, {
      contentType: header(req.headers, 'content-type'),
      ...expiry,
      closed: wantsClose(req.headers),
      body,
      fork,
    })
    const headers: OutgoingHttpHeaders = {
      'content-type': stream.contentType,
      'stream-next-offset': formatOffset(stream.tailPos),
    }
    if (stream.closed) headers['stream-closed'] = 'true'
    if (created) headers.location = `${url.origin}${url.pathname}`
    this.send(res, created ? 201 : 200, headers)
  }

  private async post(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    this.requireWriteAccess(req)
    const producer = parseProducer(req.headers)
    const streamSeq = parseStreamSeq(req.headers)
    const close = wantsClose(req.headers)
    const body = await readBody(req, this.options.maxAppendBytes)
    const result = await this.store.append(path, { contentType: header(req.headers, 'content-type'), body, close, streamSeq, producer })
    const headers: OutgoingHttpHeaders = { 'stream-next-offset': formatOffset(result.stream.tailPos) }
    if (result.stream.closed) headers['stream-closed'] = 'true'
    if (result.producer) {
      headers['producer-epoch'] = String(result.producer.epoch)
      headers['producer-seq'] = String(result.producer.seq)
    }
    // §5.2.1: a producer's new data is 200; duplicates, close-only and plain appends are 204.
    const status = result.producer && !result.duplicate && body.length > 0 ? 200 : 204
    this.send(res, status, headers)
  }

  private async remove(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    this.requireWriteAccess(req)
    await this.store.delete(path)
    this.send(res, 204, {})
  }

  private preflight(req: IncomingMessage, res: ServerResponse): void {
    this.send(res, 204, {
      'access-control-allow-methods': 'GET, HEAD, PUT, POST, DELETE, OPTIONS',
      'access-control-allow-headers': header(req.headers, 'access-control-request-headers') ?? ALLOWED_REQUEST_HEADERS,
      'access-control-max-age': '86400',
    })
  }

  private async longPoll(res: ServerResponse, path: string, query: ReadQuery): Promise<void> {
    const cursor = nextCursor(query.cursor)
    const first = await this.store.read(path, query.from, this.catchUpOptions)
    if (first.chunks.length > 0) return this.sendRead(undefined, res, first, false, cursor)
    if (first.stream.closed || this.closing) return this.sendTail(res, first.nextPos, first.stream.closed, cursor)
    const change = await this.waitForChange(res, path, first)
    if (res.destroyed) return
    if (change?.removed) return this.sendError(undefined, res, new StreamError('not_found', 'Stream was deleted'))
    if (!change || change.toPos <= first.nextPos) return this.sendTail(res, first.nextPos, change?.closed ?? false, cursor)
    const result = await this.store.read(path, { kind: 'position', position: first.nextPos }, this.catchUpOptions)
    this.sendRead(undefined, res, result, false, cursor)
  }

  /**
   * Resolves on the stream's first change past the read `first` (new data, closure, removal),
   * or undefined on timeout, disconnect or shutdown. Changes that arrive late for data the read
   * already saw (another instance's notification) are ignored.
   */
  private waitForChange(res: ServerResponse, path: string, first: ReadResult): Promise<StreamChange | undefined> {
    const { stream } = first
    return new Promise((resolve) => {
      let done = false
      const finish = (change?: StreamChange) => {
        if (done) return
        done = true
        unsubscribe()
        clearTimeout(timer)
        this.liveReaders.delete(finish)
        res.off('close', onClose)
        resolve(change)
      }
      const onClose = () => finish()
      const unsubscribe = this.store.subscribe(stream.id, (change) => {
        if (change.removed || change.closed || change.toPos > first.nextPos) finish(change)
      })
      const timer = setTimeout(finish, this.options.longPollTimeoutMs)
      this.liveReaders.add(finish)
      res.on('close', onClose)
      // A commit between the read and the subscription would go unheard: look once more.
      this.store.head(path).then(
        now => now.id !== stream.id
          ? finish({ streamId: stream.id, fromPos: 0, toPos: 0, closed: true, removed: true })
          : (now.tailPos > first.nextPos || now.closed) && finish({ streamId: stream.id, fromPos: now.tailPos, toPos: now.tailPos, closed: now.closed, removed: false }),
        () => finish({ streamId: stream.id, fromPos: 0, toPos: 0, closed: true, removed: true }),
      )
    })
  }

  private async sse(res: ServerResponse, path: string, query: ReadQuery, release: () => void): Promise<void> {
    // SSE carries text and JSON as UTF-8, so only binary streams may be cut inside an append.
    const first = await this.store.read(path, query.from, { maxBytes: this.options.readChunkBytes, cutText: false })
    const binary = !isTextContentType(first.stream.contentType)
    const headers: OutgoingHttpHeaders = {
      ...this.baseHeaders,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    }
    if (binary) headers['stream-sse-data-encoding'] = 'base64'
    res.writeHead(200, headers)
    res.flushHeaders()
    let end = () => {}
    const connection = new SseConnection(res, this.store, first, query.cursor,
      { ...this.options.sse, chunkBytes: this.options.readChunkBytes }, () => {
        this.liveReaders.delete(end)
        release()
      })
    end = () => connection.end()
    if (this.closing) end()
    else if (!res.writableEnded) this.liveReaders.add(end)
  }

  private sendRead(req: IncomingMessage | undefined, res: ServerResponse, result: ReadResult, isNow: boolean, cursor: string | undefined): void {
    const { stream } = result
    const upToDate = result.nextPos === stream.tailPos
    const headers: OutgoingHttpHeaders = {
      'content-type': stream.contentType,
      'stream-next-offset': formatOffset(result.nextPos),
    }
    if (upToDate) headers['stream-up-to-date'] = 'true'
    if (upToDate && stream.closed) headers['stream-closed'] = 'true'
    if (cursor) headers['stream-cursor'] = cursor
    if (isNow) {
      headers['cache-control'] = 'no-store'
    }
    else {
      const etag = `"${stream.id}:${result.fromPos}:${result.nextPos}${upToDate && stream.closed ? ':c' : ''}"`
      headers.etag = etag
      headers['cache-control'] = cacheControl(stream, result)
      if (req && matchesEtag(header(req.headers, 'if-none-match'), etag)) return this.send(res, 304, headers)
    }
    this.send(res, 200, headers, encodeBody(stream, result.chunks))
  }

  /** A live read that found nothing new: 204 at the tail, with EOF when the stream is closed. */
  private sendTail(res: ServerResponse, tailPos: number, closed: boolean, cursor: string): void {
    const headers: OutgoingHttpHeaders = {
      'stream-next-offset': formatOffset(tailPos),
      'stream-up-to-date': 'true',
      'cache-control': 'no-store',
    }
    if (closed) headers['stream-closed'] = 'true'
    else headers['stream-cursor'] = cursor
    this.send(res, 204, headers)
  }

  private requireWriteAccess(req: IncomingMessage): void {
    if (!this.options.authorizeWrite(req))
      throw new StreamError('unauthorized', 'Writes need Authorization: Bearer <server token>', { 'www-authenticate': 'Bearer realm="streams"' })
  }

  /** `/v1/stream/a/b` → `a/b`, rejecting traversal, control characters and reserved names. */
  private streamPath(urlPath: string): string {
    if (!urlPath.startsWith(this.options.basePath)) throw badRequest(`Stream URLs start with ${this.options.basePath}`)
    let path: string
    try {
      path = decodeURIComponent(urlPath.slice(this.options.basePath.length))
    }
    catch {
      throw badRequest('Stream path is not valid percent-encoding')
    }
    if (path === '') throw badRequest('Stream path is empty')
    if (path.length > this.options.maxPathLength) throw badRequest(`Stream path is longer than ${this.options.maxPathLength} characters`)
    const segments = path.split('/')
    if (segments.some(segment => segment === '' || segment === '.' || segment === '..' || PATH_SEGMENT_FORBIDDEN.test(segment)))
      throw badRequest('Stream path has an empty, relative or control-character segment')
    if (segments[0] === '__ds') throw new StreamError('not_found', 'The __ds prefix is reserved for protocol control APIs')
    return path
  }

  private send(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body?: string | Buffer): void {
    if (res.headersSent) {
      res.end()
      return
    }
    // A declared length lets a client that is still uploading read the whole answer (body.ts).
    const length = body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }
    const type = headers['content-type']
    const disposition = typeof type === 'string' && !isInertContentType(type) ? { 'content-disposition': 'attachment' } : {}
    res.writeHead(status, { ...this.baseHeaders, ...headers, ...length, ...disposition })
    res.end(body)
  }

  private sendError(req: IncomingMessage | undefined, res: ServerResponse, error: unknown): void {
    const { status, code, message, headers } = describeError(error)
    if (status >= 500 && status !== 503) console.error('[streams] request failed', error)
    const body = req?.method === 'HEAD' ? undefined : JSON.stringify({ error: code, message })
    this.send(res, status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }, body)
  }
}

/** A read's response body: the bytes, or the JSON messages as one array (§9.1). */
function encodeBody(stream: StreamInfo, chunks: StreamChunk[]): Buffer {
  if (stream.json) return jsonArrayBody(chunks)
  return chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks as Buffer[])
}

/**
 * Catch-up data is immutable by position, so it is cacheable (§10.1) — but never past the
 * stream's expiry, and a "nothing yet" answer at the tail of an open stream is not cached.
 */
function cacheControl(stream: StreamInfo, result: ReadResult): string {
  if (result.chunks.length === 0 && !stream.closed) return 'no-store'
  let maxAge = 60
  if (stream.ttlSeconds !== null) maxAge = Math.min(maxAge, stream.ttlSeconds)
  if (stream.expiresAt !== null) maxAge = Math.min(maxAge, Math.max(0, Math.floor((stream.expiresAt - Date.now()) / 1000)))
  return `public, max-age=${maxAge}, stale-while-revalidate=300`
}

function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false
  return ifNoneMatch.split(',').some(candidate => {
    const tag = candidate.trim().replace(/^W\//, '')
    return tag === etag || tag === '*'
  })
}
