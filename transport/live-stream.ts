import { stream } from '@durable-streams/client'
import type { HeadersRecord } from '@durable-streams/client'
import { isClient } from '@vueuse/core'
import { shallowRef } from 'vue'
import { backoffDelay, DEFAULT_BACKOFF } from '../lib/backoff'
import type { BackoffSchedule } from '../lib/backoff'
import { toSessionApiError } from './errors'
import type { SessionApiError } from './errors'

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'error'

/** One JSON batch of the stream: its items span `[from, to)`. */
export interface LiveBatch {
  items: readonly unknown[]
  from: string
  to: string
  upToDate: boolean
  streamClosed: boolean
}

export interface ReconnectInfo {
  /** Failed attempts before this connection succeeded. */
  attempts: number
  /** Where reading resumed. */
  offset: string
  /** How long the stream was not live, in ms. */
  downtimeMs: number
}

export interface LiveStreamOptions {
  /** Absolute URL of the stream. */
  url: string
  /** Where every (re)connection starts: the consumer's last applied offset. */
  offset: () => string
  /**
   * Applies one batch. Returning false (the batch does not start where the consumer stands)
   * restarts reading from `offset()` at once.
   */
  onBatch: (batch: LiveBatch) => boolean
  /** Runs before every attempt, e.g. loading the snapshot `offset()` comes from. Errors retry. */
  prepare?: () => Promise<void>
  /** `offset()` fell behind retention (410 Gone): re-seed the consumer so `offset()` is valid again. */
  onGone?: () => Promise<void>
  onReconnect?: (info: ReconnectInfo) => void
  onError?: (error: SessionApiError) => void
  onStatus?: (status: LiveStatus) => void
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch
  headers?: HeadersRecord
  /** Default: 1000 ms, ×2, capped at 30000 ms, unlimited retries. */
  backoff?: Partial<BackoffSchedule>
}

/**
 * A live JSON stream read with `@durable-streams/client` (SSE after catch-up), wrapped in our
 * own reconnect loop. The library retries failed requests itself, but with full jitter and
 * without telling when the next attempt is; here it is told not to retry (`maxRetries: 0`), and
 * this loop owns the schedule so that `status`, `nextRetryAt` and `attempt` say exactly what
 * will happen. Every attempt resumes from the consumer's own offset, never the library's.
 */
export class LiveStream {
  readonly status = shallowRef<LiveStatus>('connecting')
  readonly lastError = shallowRef<SessionApiError | null>(null)
  /** When the next attempt starts (ms since epoch) while waiting to reconnect; otherwise null. */
  readonly nextRetryAt = shallowRef<number | null>(null)
  /** Failed attempts since the stream was last live. */
  readonly attempt = shallowRef(0)

  private readonly schedule: BackoffSchedule
  private generation = 0
  private running = false
  private controller?: AbortController
  private retryTimer?: ReturnType<typeof setTimeout>
  private droppedAt: number | null = null
  private goneInARow = 0

  constructor(private readonly options: LiveStreamOptions) {
    this.schedule = { ...DEFAULT_BACKOFF, ...options.backoff }
  }

  get isRunning(): boolean {
    return this.running
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.setStatus('connecting')
    if (isClient) window.addEventListener('online', this.onOnline)
    void this.connect()
  }

  stop(): void {
    this.running = false
    this.generation++
    this.clearRetry()
    this.controller?.abort()
    if (isClient) window.removeEventListener('online', this.onOnline)
  }

  /** Skips the wait of a pending reconnect (a "retry now" button, or the browser coming online). */
  retryNow(): void {
    if (!this.running || (this.status.value !== 'reconnecting' && this.status.value !== 'error')) return
    this.clearRetry()
    void this.connect()
  }

  private readonly onOnline = () => this.retryNow()

  private async connect(): Promise<void> {
    const generation = ++this.generation
    const isCurrent = () => generation === this.generation
    this.controller?.abort()
    const controller = new AbortController()
    this.controller = controller
    let resync = false
    try {
      await this.options.prepare?.()
      if (!isCurrent()) return
      const from = this.options.offset()
      let position = from
      const response = await stream<unknown>({
        url: this.options.url,
        offset: from,
        live: 'sse',
        json: true,
        signal: controller.signal,
        fetch: this.options.fetch,
        headers: this.options.headers,
        backoffOptions: { ...this.schedule, maxRetries: 0 },
      })
      if (!isCurrent()) {
        controller.abort()
        return
      }
      this.goneInARow = 0
      await new Promise<void>((resolve, reject) => {
        response.subscribeJson((batch) => {
          if (!isCurrent() || resync) return
          const applied = this.options.onBatch({
            items: batch.items,
            from: position,
            to: batch.offset,
            upToDate: batch.upToDate,
            streamClosed: batch.streamClosed,
          })
          if (!applied) {
            resync = true
            controller.abort()
            return
          }
          position = batch.offset
          // The library may settle `closed` before it hands over the last batch: the batch that
          // carries the end is what ends the stream, whichever comes first.
          if (batch.streamClosed) this.end()
          else if (batch.upToDate) this.markLive(from)
        })
        response.closed.then(resolve, reject)
      })
      if (!isCurrent()) return
      if (resync) {
        void this.connect()
        return
      }
      if (response.streamClosed || !this.running) {
        this.end()
        return
      }
      throw new Error('The live connection ended')
    }
    catch (error) {
      if (!isCurrent()) return
      if (resync) {
        void this.connect()
        return
      }
      await this.fail(toSessionApiError(error))
    }
    finally {
      // An ended connection is not aborted later: there is nothing left to cancel, and happy-dom
      // (the test DOM) rejects a promise nobody handles when a failed fetch is aborted.
      if (this.controller === controller) this.controller = undefined
    }
  }

  private async fail(error: SessionApiError): Promise<void> {
    let permanent = !error.retryable
    if (error.status === 410 && this.options.onGone) {
      // Behind retention: re-seed and resume at once; if that keeps failing, back off like any outage.
      permanent = false
      const generation = this.generation
      try {
        await this.options.onGone()
        if (generation !== this.generation || !this.running) return
        if (this.goneInARow++ === 0) {
          void this.connect()
          return
        }
      }
      catch (recoveryError) {
        error = toSessionApiError(recoveryError)
        permanent = !error.retryable
      }
    }
    this.lastError.value = error
    this.options.onError?.(error)
    if (permanent) {
      this.setStatus('error')
      return
    }
    this.droppedAt ??= Date.now()
    this.attempt.value++
    const delay = backoffDelay(this.attempt.value, this.schedule)
    this.nextRetryAt.value = Date.now() + delay
    this.setStatus('reconnecting')
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.nextRetryAt.value = null
      void this.connect()
    }, delay)
  }

  /** EOF: the session ended. Nothing more will come, so there is nothing to reconnect to. */
  private end(): void {
    this.running = false
    this.clearRetry()
    if (isClient) window.removeEventListener('online', this.onOnline)
    this.setStatus('closed')
  }

  private markLive(offset: string): void {
    // An ended stream never goes live again, however late a batch of it is handed over.
    if (!this.running || this.status.value === 'live') return
    const recovered = this.droppedAt !== null
    const info: ReconnectInfo = { attempts: this.attempt.value, offset, downtimeMs: recovered ? Date.now() - this.droppedAt! : 0 }
    this.attempt.value = 0
    this.droppedAt = null
    this.nextRetryAt.value = null
    this.lastError.value = null
    this.setStatus('live')
    if (recovered) this.options.onReconnect?.(info)
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.nextRetryAt.value = null
  }

  private setStatus(status: LiveStatus): void {
    if (this.status.value === status) return
    this.status.value = status
    this.options.onStatus?.(status)
  }
}
