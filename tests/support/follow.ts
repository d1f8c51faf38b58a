import { request as httpRequest } from 'node:http'
import type { Agent, ClientRequest, IncomingMessage } from 'node:http'

/**
 * A reader that follows a JSON stream live — by SSE or long-poll — the way a careful client
 * does: it keeps the offset of the last data it has *committed* and, whenever the connection
 * ends (server cycled it, shut down, crashed), reconnects from exactly that offset. Nothing in
 * it knows about the server under test beyond the protocol, so it can outlive server processes.
 *
 * SSE data is committed only with the control event that follows it (its `streamNextOffset`);
 * data whose control event never arrived is discarded and read again after reconnecting. That
 * is what makes "no gap, no duplicate" a property of the server rather than of luck.
 */

export type FollowMode = 'sse' | 'long-poll'

export interface FollowOptions {
  mode: FollowMode
  /** Where to start: an offset, `-1` or `now`. */
  offset: string
  /** Called once per committed batch, in stream order, with the offset after it. */
  onBatch: (items: unknown[], offset: string) => void
  /** Pause before reconnecting (the next server may not listen yet). */
  retryDelayMs?: number
  agent?: Agent | false
}

export class StreamFollower {
  /** The committed offset: everything before it was handed to onBatch, nothing after. */
  offset: string
  cursor: string | undefined
  /** Control events (SSE) or answers (long-poll) received: the reader is live once this is > 0. */
  controls = 0
  /** Connections opened after the first one. */
  reconnects = 0
  /** Connections that ended by a network error (reset, refused) rather than cleanly. */
  networkErrors = 0
  /** Answers no healthy server gives a reader (anything but 200/204, and 503 while starting). */
  readonly failures: string[] = []
  /** The stream was closed (Stream-Closed / streamClosed): the follower stopped by itself. */
  closed = false
  private stopped = false
  private connections = 0
  /** Identifies the current connection; handlers of an older one must not reconnect again. */
  private generation = 0
  private retryScheduledFor = -1
  private current?: ClientRequest
  private retryTimer?: NodeJS.Timeout
  private readonly waiters = new Set<() => void>()

  constructor(private readonly url: string, private readonly options: FollowOptions) {
    this.offset = options.offset
  }

  start(): this {
    this.connect()
    return this
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.retryTimer)
    this.current?.destroy()
    this.notify()
  }

  /** Resolves once `condition` holds (checked after every batch), or rejects after `timeoutMs`. */
  until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    if (condition()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`Timed out after ${timeoutMs} ms waiting until ${what} (offset ${this.offset}, failures ${this.failures.join('; ') || 'none'})`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter()
  }

  private connect(): void {
    if (this.stopped || this.closed) return
    if (this.connections++ > 0) this.reconnects++
    const generation = ++this.generation
    const query = new URLSearchParams({ offset: this.offset, live: this.options.mode })
    if (this.cursor) query.set('cursor', this.cursor)
    const url = new URL(this.url)
    const request = httpRequest({
      host: url.hostname,
      port: url.port,
      path: `${url.pathname}?${query}`,
      agent: this.options.agent ?? false,
    }, response => this.options.mode === 'sse' ? this.readSse(response, generation) : this.readLongPoll(response, generation))
    this.current = request
    request.on('error', () => {
      this.networkErrors++
      this.retry(generation)
    })
    request.end()
  }

  /** Reconnects once per ended connection, however many of its handlers report the end. */
  private retry(generation: number): void {
    if (this.stopped || this.closed || generation !== this.generation || this.retryScheduledFor === generation) return
    this.retryScheduledFor = generation
    this.retryTimer = setTimeout(() => this.connect(), this.options.retryDelayMs ?? 50)
  }

  /** Non-2xx: 503 is a server that is busy or starting, retried; anything else is a failure. */
  private unexpected(response: IncomingMessage, generation: number): boolean {
    const status = response.statusCode ?? 0
    if (status === 200 || status === 204) return false
    if (status !== 503) this.failures.push(`${this.options.mode} at ${this.offset}: HTTP ${status}`)
    response.resume()
    response.on('close', () => this.retry(generation))
    return true
  }

  private readLongPoll(response: IncomingMessage, generation: number): void {
    if (this.unexpected(response, generation)) return
    const chunks: Buffer[] = []
    response.on('data', (chunk: Buffer) => chunks.push(chunk))
    response.on('error', () => { /* the request's error handler reconnects */ })
    response.on('close', () => {
      if (!response.complete) {
        this.networkErrors++
        return this.retry(generation)
      }
      const next = response.headers['stream-next-offset']
      if (typeof next !== 'string') {
        this.failures.push(`long-poll at ${this.offset}: no Stream-Next-Offset`)
        return this.retry(generation)
      }
      const cursor = response.headers['stream-cursor']
      if (typeof cursor === 'string') this.cursor = cursor
      if (response.statusCode === 200) this.commit(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[], next)
      else this.commit([], next)
      if (response.headers['stream-closed'] === 'true') this.closed = true
      this.notify()
      // Straight back: a long-poll client keeps exactly one request open.
      if (generation === this.generation) this.connect()
    })
  }

  private readSse(response: IncomingMessage, generation: number): void {
    if (this.unexpected(response, generation)) return
    response.setEncoding('utf8')
    let buffer = ''
    let pending: unknown[] = []
    response.on('data', (text: string) => {
      buffer += text
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        let event = 'message'
        const data: string[] = []
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue
          const colon = line.indexOf(':')
          const field = colon === -1 ? line : line.slice(0, colon)
          let value = colon === -1 ? '' : line.slice(colon + 1)
          if (value.startsWith(' ')) value = value.slice(1)
          if (field === 'event') event = value
          else if (field === 'data') data.push(value)
        }
        if (data.length === 0) continue
        const payload = data.join('\n')
        if (event === 'data') {
          pending.push(...(JSON.parse(payload) as unknown[]))
        }
        else if (event === 'control') {
          const control = JSON.parse(payload) as { streamNextOffset: string, streamCursor?: string, streamClosed?: boolean }
          if (control.streamCursor) this.cursor = control.streamCursor
          this.commit(pending, control.streamNextOffset)
          pending = []
          if (control.streamClosed) this.closed = true
          this.notify()
        }
      }
    })
    response.on('error', () => { /* the request's error handler reconnects */ })
    // Any end — cycled by the server, shutdown, crash — is followed by a reconnect from the
    // committed offset; uncommitted data is dropped with the connection.
    response.on('close', () => {
      if (!response.complete) this.networkErrors++
      this.retry(generation)
    })
  }

  private commit(items: unknown[], next: string): void {
    this.controls++
    if (items.length > 0) this.options.onBatch(items, next)
    this.offset = next
  }
}
