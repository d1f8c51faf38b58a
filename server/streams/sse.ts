import type { ServerResponse } from 'node:http'
import { isTextContentType } from './content-type'
import { advanceCursor, nextCursor } from './cursor'
import { formatOffset } from './offsets'
import type { ReadOptions, ReadResult, StreamChange, StreamChunk, StreamInfo, StreamStore } from './store'

export interface SseOptions {
  /** Connections end after this long so CDNs can collapse new readers (§10.2). */
  maxDurationMs: number
  keepAliveMs: number
  chunkBytes: number
  /** A reader this far behind is dropped; it reconnects from its offset and catches up. */
  maxBufferedBytes: number
}

/**
 * The frames of one append — its data event and the control event after it — are encoded once
 * and the same bytes written to every reader waiting at its offset (readers differ only when a
 * client echoed a cursor from the future or knows of a later tail, hence one entry per control event).
 */
const sharedFrames = new WeakMap<StreamChange, Map<string, Buffer>>()

/** How long an ended reader has to take its last frames before its connection is cut. */
const END_GRACE_MS = 5_000

export function dataEvent(stream: StreamInfo, chunks: StreamChunk[]): string {
  let payload: string
  if (stream.json) payload = `[${chunks.join(',')}]`
  else if (isTextContentType(stream.contentType)) payload = Buffer.concat(chunks as Buffer[]).toString('utf8')
  else payload = Buffer.concat(chunks as Buffer[]).toString('base64')
  // Every line break becomes a new `data:` line, so payload text can never end an event early.
  return `event: data\n${payload.split(/\r\n|\r|\n/).map(line => `data:${line}`).join('\n')}\n\n`
}

export function controlEvent(nextPos: number, cursor: string, upToDate: boolean, closed: boolean): string {
  const control: Record<string, unknown> = { streamNextOffset: formatOffset(nextPos) }
  if (!closed) control.streamCursor = cursor
  if (upToDate) control.upToDate = true
  if (closed) control.streamClosed = true
  return `event: control\ndata:${JSON.stringify(control)}\n\n`
}

/**
 * One SSE reader: catch-up from its offset in chunks (a control event after every data
 * event), then live from the notifier, until the stream closes, the reader leaves, the
 * connection reaches its maximum age, or the server shuts down. It keeps the tail it knows of
 * from every change and read; a change that does not start at its position (another
 * instance's, or carrying no data) sends it to the database for what lies between.
 */
export class SseConnection {
  private pos: number
  private tail: number
  private closed: boolean
  private cursor: string
  private pumping = false
  private ended = false
  private readonly stream: StreamInfo
  private readonly cleanups: Array<() => void> = []

  constructor(
    private readonly res: ServerResponse,
    private readonly store: StreamStore,
    first: ReadResult,
    clientCursor: string | undefined,
    private readonly options: SseOptions,
    private readonly onEnd: () => void,
  ) {
    this.stream = first.stream
    this.pos = first.fromPos
    this.tail = first.stream.tailPos
    this.closed = first.stream.closed
    this.cursor = nextCursor(clientCursor)
    this.cleanups.push(store.subscribe(this.stream.id, change => this.onChange(change)))
    const keepAlive = setInterval(() => this.write(': keep-alive\n\n'), options.keepAliveMs)
    const maxAge = setTimeout(() => this.end(), options.maxDurationMs)
    this.cleanups.push(() => clearInterval(keepAlive), () => clearTimeout(maxAge))
    res.on('close', () => this.end())
    this.sendRead(first, true)
    // A commit between the first read and the subscription would go unheard: look once more.
    void this.pump(true)
  }

  end(): void {
    if (this.ended) return
    this.ended = true
    for (const cleanup of this.cleanups) cleanup()
    if (!this.res.writableEnded) this.res.end()
    // Ending the response is not enough for a reader that has stopped reading: everything
    // queued for it stays in memory for as long as its connection does. One that has not taken
    // its last frames after END_GRACE_MS is cut off, and what was queued for it is freed.
    if (!this.res.writableFinished && !this.res.destroyed) {
      const cut = setTimeout(() => this.res.destroy(), END_GRACE_MS)
      cut.unref()
      this.res.once('close', () => clearTimeout(cut))
    }
    this.onEnd()
  }

  private onChange(change: StreamChange): void {
    if (this.ended || change.trimmed) return
    if (change.removed) return this.end()
    this.learn(change.toPos, change.closed)
    if (!this.pumping && change.chunks && change.fromPos === this.pos) {
      this.pos = change.toPos
      this.cursor = advanceCursor(this.cursor)
      let frames = sharedFrames.get(change)
      if (!frames) sharedFrames.set(change, (frames = new Map()))
      const upToDate = this.pos >= this.tail
      const key = `${this.cursor}${upToDate ? ' u' : ''}${this.closed ? ' c' : ''}`
      let bytes = frames.get(key)
      if (!bytes) {
        const data = change.toPos > change.fromPos ? dataEvent(this.stream, change.chunks) : ''
        bytes = Buffer.from(data + this.controlAtCursor())
        frames.set(key, bytes)
      }
      this.write(bytes)
      if (this.closed && this.pos >= this.tail) this.end()
      return
    }
    void this.pump()
  }

  /** What a change or a read says of the stream: a tail never goes back, and closing is final. */
  private learn(tail: number, closed: boolean): void {
    this.tail = Math.max(this.tail, tail)
    this.closed ||= closed
  }

  /** Catches up from the database whenever the reader is behind the tail (`refresh`: ask for the tail first). */
  private async pump(refresh = false): Promise<void> {
    if (this.pumping || this.ended) return
    this.pumping = true
    try {
      if (refresh) {
        const now = await this.store.head(this.stream.path)
        if (now.id !== this.stream.id) return this.end()
        this.learn(now.tailPos, now.closed)
      }
      while (!this.ended && this.pos < this.tail) {
        if (this.res.writableNeedDrain) await new Promise(resolve => this.res.once('drain', resolve))
        if (this.ended) return
        const readOptions: ReadOptions = { maxBytes: this.options.chunkBytes, cutText: false }
        const result = await this.store.read(this.stream.path, { kind: 'position', position: this.pos }, readOptions)
        if (result.stream.id !== this.stream.id) return this.end()
        this.learn(result.stream.tailPos, result.stream.closed)
        this.sendRead(result, false)
      }
      if (!this.ended && this.closed && this.pos >= this.tail) this.end()
    }
    catch {
      this.end()
    }
    finally {
      this.pumping = false
    }
  }

  /** Writes a read's data event and its control event; an empty read sends only the control. */
  private sendRead(result: ReadResult, alwaysControl: boolean): void {
    if (result.chunks.length === 0 && !alwaysControl) return
    const frame = result.chunks.length > 0 ? dataEvent(this.stream, result.chunks) : ''
    this.pos = result.nextPos
    this.write(frame + this.control())
  }

  private control(): string {
    this.cursor = advanceCursor(this.cursor)
    return this.controlAtCursor()
  }

  private controlAtCursor(): string {
    const upToDate = this.pos >= this.tail
    return controlEvent(this.pos, this.cursor, upToDate, upToDate && this.closed)
  }

  private write(text: string | Buffer): void {
    if (this.ended || this.res.writableEnded) return
    this.res.write(text)
    if (this.res.writableLength > this.options.maxBufferedBytes) {
      this.res.destroy()
      this.end()
    }
  }
}
