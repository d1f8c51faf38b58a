import type { Pinia } from 'pinia'
import { computed, shallowReactive } from 'vue'
import type { ComputedRef } from 'vue'
import type { WriteResult } from '#layers/durable-sessions/shared/sessions/api'
import { toSessionApiError } from '../transport/errors'
import type { SessionApiError } from '../transport/errors'

export type WriteStatus = 'pending' | 'retrying' | 'confirmed' | 'failed'

/** One write as the UI sees it: shown at once, then confirmed or rolled back. */
export interface TrackedWrite {
  /** The Idempotency-Key every attempt of this write carries. */
  key: string
  sessionId: string
  /** What was written, e.g. `terminal`, `approval`, `presence`. */
  kind: string
  /** Id of the optimistic entity (terminal entry id, workflow event id, user id). */
  entityId?: string
  status: WriteStatus
  attempts: number
  createdAt: number
  /** Where the write landed (the stream's offset after it), once confirmed. */
  offset?: string
  error?: SessionApiError
}

export interface WriteRequest {
  sessionId: string
  kind: string
  entityId?: string
  /** Performs one attempt; called again for a retry with the same key. */
  send: (idempotencyKey: string, signal: AbortSignal) => Promise<WriteResult>
  /** Shows the write before it is sent. */
  apply?: () => void
  /** Undoes `apply` after the last attempt failed. */
  rollback?: (error: SessionApiError) => void
  /** Retries after the first attempt. Default: the manager's (3). */
  retries?: number
  /** List the write in `writes`. Default true; high-rate cursor moves are not worth listing. */
  track?: boolean
}

export type WriteOutcome =
  | { ok: true, key: string, offset: string }
  | { ok: false, key: string, error: SessionApiError }

export interface WriteManagerOptions {
  /** Retries after a failed first attempt. Default 3. */
  retries?: number
  /** Wait between attempts, in ms. Default 1000. */
  retryDelayMs?: number
  /** An attempt without an answer after this long counts as failed, in ms. Default 10000. */
  attemptTimeoutMs?: number
  /** Settled writes leave the list after this long, in ms. Default 60000. */
  maxAgeMs?: number
  /** Default: crypto.randomUUID. */
  createKey?: () => string
}

/**
 * Optimistic writes with retry and rollback. Each write gets one Idempotency-Key for all its
 * attempts, so a retry of a request that did land (its answer was lost) is answered with the
 * first result by the server and appends nothing. Only failures that asking again could fix
 * (no answer, 408, 429, 5xx) are retried; a refusal (403…) rolls back at once.
 */
export class WriteManager {
  /** Writes of the last minute, oldest first. */
  readonly writes: TrackedWrite[] = shallowReactive([])
  /** Writes not yet confirmed or failed. */
  readonly pending: ComputedRef<TrackedWrite[]> = computed(() => this.writes.filter(write => write.status === 'pending' || write.status === 'retrying'))

  private readonly options: Required<WriteManagerOptions>
  private cleanupTimer?: ReturnType<typeof setTimeout>

  constructor(options: WriteManagerOptions = {}) {
    this.options = {
      retries: 3,
      retryDelayMs: 1000,
      attemptTimeoutMs: 10_000,
      maxAgeMs: 60_000,
      createKey: () => crypto.randomUUID(),
      ...options,
    }
  }

  async submit(request: WriteRequest): Promise<WriteOutcome> {
    const key = this.options.createKey()
    const retries = request.retries ?? this.options.retries
    // shallowReactive list of reactive entries: updating a field re-renders what shows it.
    const write = request.track === false
      ? undefined
      : this.track({ key, sessionId: request.sessionId, kind: request.kind, entityId: request.entityId, status: 'pending', attempts: 0, createdAt: Date.now() })
    request.apply?.()
    for (let attempt = 1; ; attempt++) {
      if (write) write.attempts = attempt
      try {
        const result = await this.attempt(request, key)
        if (write) Object.assign(write, { status: 'confirmed', offset: result.offset, error: undefined })
        return { ok: true, key, offset: result.offset }
      }
      catch (caught) {
        const error = toSessionApiError(caught)
        if (error.retryable && attempt <= retries) {
          if (write) Object.assign(write, { status: 'retrying', error })
          await sleep(this.options.retryDelayMs)
          continue
        }
        if (write) Object.assign(write, { status: 'failed', error })
        request.rollback?.(error)
        return { ok: false, key, error }
      }
    }
  }

  /** Whether an optimistic entity still waits for its write. */
  isPending(entityId: string): boolean {
    return this.pending.value.some(write => write.entityId === entityId)
  }

  /** Drops settled writes older than `maxAgeMs`. */
  cleanup(now = Date.now()): void {
    for (let i = this.writes.length - 1; i >= 0; i--) {
      const write = this.writes[i]!
      const settled = write.status === 'confirmed' || write.status === 'failed'
      if (settled && now - write.createdAt >= this.options.maxAgeMs) this.writes.splice(i, 1)
    }
    this.scheduleCleanup()
  }

  dispose(): void {
    if (this.cleanupTimer !== undefined) clearTimeout(this.cleanupTimer)
    this.cleanupTimer = undefined
    this.writes.splice(0)
  }

  private track(entry: TrackedWrite): TrackedWrite {
    const write = shallowReactive(entry)
    this.writes.push(write)
    this.scheduleCleanup()
    return write
  }

  private async attempt(request: WriteRequest, key: string): Promise<WriteResult> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), this.options.attemptTimeoutMs)
    try {
      return await request.send(key, controller.signal)
    }
    finally {
      clearTimeout(timer)
    }
  }

  /** One timer while anything is listed, due when the oldest entry expires. */
  private scheduleCleanup(): void {
    if (this.cleanupTimer !== undefined || this.writes.length === 0) return
    const oldest = Math.min(...this.writes.map(write => write.createdAt))
    // At least a second apart: the oldest entry may still be in flight when it is due.
    const due = Math.max(1000, oldest + this.options.maxAgeMs - Date.now())
    this.cleanupTimer = setTimeout(() => {
      this.cleanupTimer = undefined
      this.cleanup()
    }, due)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

// One manager per Pinia (per app; per request during SSR), like the stores it writes into.
const managers = new WeakMap<Pinia, WriteManager>()

/** The write manager of a Pinia instance. */
export function writeManagerFor(pinia: Pinia): WriteManager {
  let manager = managers.get(pinia)
  if (!manager) {
    manager = new WriteManager()
    managers.set(pinia, manager)
  }
  return manager
}
