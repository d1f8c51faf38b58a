import type { WriteResult } from '../../../shared/sessions/api'
import type { SessionEventInput } from '../../../shared/sessions/channels'
import { sessionApiPath } from '../../../shared/sessions/paths'
import { backoffDelay } from '../../../lib/backoff'
import type { BackoffSchedule } from '../../../lib/backoff'
import { callApi, isRetryable } from './http'
import type { ApiFailure, Transport } from './http'
import { randomId } from './random'

/** The session API takes at most 1000 events and 1 MiB per request; batches stay under both. */
const MAX_BATCH_EVENTS = 1000
const MAX_BATCH_BYTES = 768 * 1024

export interface WriterOptions {
  /** How long the first event of a batch waits for company, in ms. Default 5. */
  batchDelayMs?: number
  /** Queued and in-flight bytes above which publishing waits (back-pressure). Default 8 MiB. */
  maxQueueBytes?: number
  /** Retry schedule for network errors, 408, 429 and 5xx. Default 100 ms × 2 up to 5 s, forever. */
  retry?: Partial<BackoffSchedule>
  /** Called before each retry, e.g. to log that the server is unreachable. */
  onRetry?: (info: RetryInfo) => void
}

export interface RetryInfo {
  error: Error
  /** 1 for the first retry of this batch. */
  attempt: number
  delayMs: number
}

export interface WriterContext {
  transport: Transport
  sessionId: string
  bearer: string
  /** Runs once before the first request, e.g. to learn the session's agent id. */
  prepare: () => Promise<void>
  /** Completes an event at the moment it joins a batch (fills what `prepare` learnt). */
  complete: (event: SessionEventInput) => SessionEventInput
  /** A permanent failure: nothing more will be sent. */
  onFailure: (error: Error) => void
}

interface Queued {
  event: SessionEventInput
  bytes: number
}

interface Batch {
  key: string
  body: string
  count: number
  bytes: number
}

interface Waiter {
  item: Queued
  resolve: () => void
  reject: (error: Error) => void
}

const DEFAULT_RETRY: BackoffSchedule = { initialDelay: 100, maxDelay: 5000, multiplier: 2 }

/**
 * Ordered, exactly-once delivery of session events. Events are queued, coalesced into batches
 * for a few ms, and sent one batch at a time, each with its own Idempotency-Key. A failed batch
 * is sent again, byte for byte and with the same key, until the server acknowledges it: the
 * server stores the key in the transaction that appends the batch, so a retry after a lost
 * answer (or a server killed mid-request) replays the first result instead of appending twice.
 * The next batch leaves only after that acknowledgement, so batches land in the order queued.
 */
export class EventWriter {
  private readonly writerId = randomId(12)
  private readonly retry: BackoffSchedule
  private readonly batchDelayMs: number
  readonly maxQueueBytes: number
  private queue: Queued[] = []
  private head = 0
  private queuedBytes = 0
  private inFlight?: Batch
  private sequence = 0
  private readonly waiting: Waiter[] = []
  private idle: Resolvers | undefined
  private failure?: Error
  private prepared?: Promise<void>
  private timer?: ReturnType<typeof setTimeout>
  private running = false
  private urgent = false
  private lastResult?: WriteResult

  constructor(private readonly context: WriterContext, private readonly options: WriterOptions = {}) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry }
    this.batchDelayMs = options.batchDelayMs ?? 5
    this.maxQueueBytes = options.maxQueueBytes ?? 8 * 1024 * 1024
  }

  /** Events and bytes not yet acknowledged (queued, in flight, or waiting for room). */
  get pending(): { events: number, bytes: number } {
    const waitingBytes = this.waiting.reduce((sum, waiter) => sum + waiter.item.bytes, 0)
    return {
      events: this.queue.length - this.head + (this.inFlight?.count ?? 0) + this.waiting.length,
      bytes: this.queuedBytes + waitingBytes,
    }
  }

  /** The stream offset after the last acknowledged batch. */
  get offset(): string | undefined {
    return this.lastResult?.offset
  }

  get failed(): Error | undefined {
    return this.failure
  }

  /**
   * Queues an event. Resolves at once while the queue is under `maxQueueBytes`; otherwise when
   * enough has been acknowledged to make room (in call order). Rejects after a permanent failure.
   */
  enqueue(event: SessionEventInput): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    const item: Queued = { event, bytes: utf8Length(JSON.stringify(event)) }
    if (this.waiting.length === 0 && this.hasRoomFor(item)) {
      this.push(item)
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => this.waiting.push({ item, resolve, reject }))
  }

  /** Resolves when every event queued so far is acknowledged; sends without waiting for company. */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.isIdle()) return Promise.resolve()
    this.urgent = true
    this.schedule(0)
    this.idle ??= withResolvers()
    return this.idle.promise
  }

  /** Stops for good: queued events are dropped and every waiter learns why. */
  abandon(error: Error): void {
    this.fail(error, false)
  }

  private hasRoomFor(item: Queued): boolean {
    return this.queuedBytes === 0 || this.queuedBytes + item.bytes <= this.maxQueueBytes
  }

  private push(item: Queued): void {
    this.queue.push(item)
    this.queuedBytes += item.bytes
    this.schedule(this.urgent ? 0 : this.batchDelayMs)
  }

  private schedule(delayMs: number): void {
    if (this.running) return
    if (this.timer !== undefined) {
      if (delayMs > 0) return
      clearTimeout(this.timer)
    }
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.run()
    }, delayMs)
  }

  private isIdle(): boolean {
    return this.head === this.queue.length && !this.inFlight && this.waiting.length === 0
  }

  private async run(): Promise<void> {
    if (this.running || this.failure) return
    this.running = true
    try {
      this.prepared ??= this.prepareWithRetries()
      await this.prepared
      while (!this.failure && (this.inFlight || this.head < this.queue.length)) {
        const batch = this.inFlight ?? this.nextBatch()
        this.inFlight = batch
        await this.send(batch)
        if (this.failure) return
        this.inFlight = undefined
        this.queuedBytes -= batch.bytes
        this.admitWaiting()
      }
      this.urgent = false
      if (this.isIdle()) {
        this.idle?.resolve()
        this.idle = undefined
      }
    }
    catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)))
    }
    finally {
      this.running = false
    }
  }

  private async prepareWithRetries(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.context.prepare()
      }
      catch (error) {
        if (!isRetryable(error)) throw error
        await this.pauseBeforeRetry(error as ApiFailure, attempt)
      }
    }
  }

  /** The oldest queued events that fit in one request, frozen: retries send exactly these bytes. */
  private nextBatch(): Batch {
    const parts: string[] = []
    let bytes = 0
    let queuedBytes = 0
    while (this.head < this.queue.length && parts.length < MAX_BATCH_EVENTS) {
      const item = this.queue[this.head]!
      const json = JSON.stringify(this.context.complete(item.event))
      const size = utf8Length(json) + 1
      if (parts.length > 0 && bytes + size > MAX_BATCH_BYTES) break
      parts.push(json)
      bytes += size
      queuedBytes += item.bytes
      this.head++
    }
    // Drop the consumed prefix now and then, so a long-lived queue does not keep its history.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return { key: `${this.writerId}.${++this.sequence}`, body: `[${parts.join(',')}]`, count: parts.length, bytes: queuedBytes }
  }

  private async send(batch: Batch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.lastResult = await callApi<WriteResult>(this.context.transport, {
          method: 'POST',
          path: sessionApiPath(this.context.sessionId, 'events'),
          rawBody: batch.body,
          bearer: this.context.bearer,
          idempotencyKey: batch.key,
          sessionId: this.context.sessionId,
          action: 'Publishing events',
        })
        return
      }
      catch (error) {
        if (!isRetryable(error)) {
          this.fail(error as Error)
          return
        }
        await this.pauseBeforeRetry(error as ApiFailure, attempt)
        if (this.failure) return
      }
    }
  }

  private async pauseBeforeRetry(error: ApiFailure, attempt: number): Promise<void> {
    const delayMs = Math.max(backoffDelay(attempt, this.retry), error.retryAfterMs ?? 0)
    this.options.onRetry?.({ error, attempt, delayMs })
    await new Promise(resolve => setTimeout(resolve, delayMs))
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.hasRoomFor(this.waiting[0]!.item)) {
      const waiter = this.waiting.shift()!
      this.push(waiter.item)
      waiter.resolve()
    }
  }

  private fail(error: Error, notify = true): void {
    if (this.failure) return
    this.failure = error
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    for (const waiter of this.waiting.splice(0)) waiter.reject(error)
    if (this.idle) {
      // Resolved through a rejection so flush() callers see why.
      const idle = this.idle
      this.idle = undefined
      idle.promise.catch(() => {})
      idle.reject(error)
    }
    if (notify) this.context.onFailure(error)
  }
}

/** UTF-8 length of a string without encoding it (lone surrogates count as the 3 bytes of U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) bytes += 1
    else if (code >= 0xD800 && code <= 0xDBFF && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xFC00) === 0xDC00) {
      bytes += 2
      i++
    }
    else bytes += 2
  }
  return bytes
}

interface Resolvers {
  promise: Promise<void>
  resolve: () => void
  reject: (error: Error) => void
}

function withResolvers(): Resolvers {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
