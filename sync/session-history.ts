import { shallowRef } from 'vue'
import type { ShallowRef } from 'vue'
import { WINDOW_SIZES } from '#layers/durable-sessions/shared/sessions/window'
import type { HistoryList } from '#layers/durable-sessions/shared/sessions/window'
import type { SessionStore } from '../stores/session'
import { toSessionApiError } from '../transport/errors'
import type { SessionApiError } from '../transport/errors'
import { fetchHistory } from '../transport/session-api'
import type { SessionClientOptions } from '../transport/session-api'

/**
 * Pages a session's earlier history into its store, one page of a list at a time: a reader
 * scrolling up asks for the page before the oldest item held, and asking again while it loads
 * waits for the same request.
 */
export class SessionHistoryLoader {
  /** The lists whose earlier page is loading. */
  readonly loading: ShallowRef<ReadonlySet<HistoryList>> = shallowRef(new Set())
  /** Why the last page failed to load (cleared by the next that loads); the reader may scroll up again. */
  readonly error: ShallowRef<SessionApiError | null> = shallowRef(null)
  private readonly inFlight = new Map<HistoryList, Promise<boolean>>()

  constructor(private readonly sessionId: string, private readonly store: SessionStore, private readonly options: SessionClientOptions = {}) {}

  /** Loads the page before the oldest item of `list` held; false when there is none (or the store moved on). */
  load(list: HistoryList, limit = WINDOW_SIZES[list]): Promise<boolean> {
    const pending = this.inFlight.get(list)
    if (pending) return pending
    const before = this.store.history?.[list].before
    if (!before) return Promise.resolve(false)
    const request = fetchHistory(this.sessionId, list, before, limit, this.options)
      .then((page) => {
        this.error.value = null
        return this.store.prependHistory(page, before)
      })
      .catch((error: unknown) => {
        this.error.value = toSessionApiError(error)
        return false
      })
      .finally(() => {
        this.inFlight.delete(list)
        this.loading.value = new Set(this.inFlight.keys())
      })
    this.inFlight.set(list, request)
    this.loading.value = new Set(this.inFlight.keys())
    return request
  }
}
