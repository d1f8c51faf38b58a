import { getActivePinia } from 'pinia'
import type { Pinia } from 'pinia'
import { computed } from 'vue'
import type { ComputedRef } from 'vue'
import type { SessionEvent } from '#layers/durable-sessions/shared/sessions/channels'
import { presenceStreamPath, sessionStreamPath, streamUrlPath } from '#layers/durable-sessions/shared/sessions/paths'
import { SessionEventRouter } from '#layers/durable-sessions/shared/sessions/router'
import { fromChange } from '#layers/durable-sessions/shared/sessions/wire'
import type { ChangeOperation } from '#layers/durable-sessions/shared/sessions/wire'
import { useSessionStore } from '../stores/session'
import type { SessionStore } from '../stores/session'
import type { BackoffSchedule } from '../lib/backoff'
import { LiveStream } from '../transport/live-stream'
import type { LiveBatch, LiveStatus, LiveStreamOptions, ReconnectInfo } from '../transport/live-stream'
import { toError } from '../transport/errors'
import type { SessionApiError } from '../transport/errors'
import { fetchDetails, fetchSnapshot, resolveBaseUrl } from '../transport/session-api'
import type { SessionClientOptions } from '../transport/session-api'
import { Listeners } from './listeners'
import { perPinia } from './ref-counted'

export type SessionStreamName = 'session' | 'presence'

export interface SessionEventMeta {
  stream: SessionStreamName
  /** Offset after the batch that carried the event. */
  offset: string
  /** `delete` is a presence leave. */
  operation: ChangeOperation
}

/** The spec's subscription callbacks. All optional; one that throws does not stop the others. */
export interface SessionCallbacks {
  /** Every event from the session and presence streams, after the store has applied it. */
  onEvent?: (event: SessionEvent, meta: SessionEventMeta) => void
  /** A stream is live again after failures; reading resumed at `info.offset`. */
  onReconnect?: (info: ReconnectInfo & { stream: SessionStreamName }) => void
  /** A connection or snapshot failure (retried unless the status became 'error'). */
  onError?: (error: Error) => void
  onStatus?: (status: LiveStatus) => void
  /** The session ended: its stream is closed (EOF). */
  onClose?: () => void
}

export interface SessionSubscriptionOptions extends SessionClientOptions {
  /** Default: the active Pinia. */
  pinia?: Pinia | null
  /** Reconnect schedule. Default: 1 s, ×2, capped at 30 s, unlimited. */
  backoff?: Partial<BackoffSchedule>
}

/**
 * The live connection of one session: the session stream into the store (from its offset, after
 * loading a snapshot if the store has none) and the presence stream from its presence offset.
 * Events the store applies are fanned out through a SessionEventRouter and the callbacks.
 */
export class SessionSubscription {
  readonly router: SessionEventRouter
  readonly main: LiveStream
  readonly presence: LiveStream
  /** The session stream's status: it decides whether the session is live, ended or failing. */
  readonly status: ComputedRef<LiveStatus>
  readonly lastError: ComputedRef<SessionApiError | null>
  readonly nextRetryAt: ComputedRef<number | null>

  private readonly listeners = new Listeners<SessionCallbacks>('subscription')
  private hydrating?: Promise<void>

  constructor(readonly sessionId: string, readonly store: SessionStore, private readonly options: SessionSubscriptionOptions = {}) {
    this.router = new SessionEventRouter({
      // A failing handler is a bug worth seeing even when nobody listens for errors.
      onError: (error, event) => {
        console.error(`[sessions] ${event.channel} handler failed`, error)
        this.reportError(error)
      },
    })
    this.main = this.follow('session', sessionStreamPath(sessionId), () => store.offset, {
      // History before our offset was trimmed by retention: start over from a fresh snapshot.
      onGone: async () => {
        store.hydrate(await fetchSnapshot(sessionId, options), { force: true })
      },
      onStatus: (status) => {
        this.listeners.emit(listener => listener.onStatus?.(status))
        if (status === 'closed') this.listeners.emit(listener => listener.onClose?.())
      },
    })
    this.presence = this.follow('presence', presenceStreamPath(sessionId), () => store.presenceOffset, {
      // Presence keeps minutes of history: a tab asleep longer re-reads who is here.
      onGone: async () => {
        const details = await fetchDetails(sessionId, options)
        store.replacePresence(details.presence, details.presenceOffset)
      },
    })
    this.status = computed(() => this.main.status.value)
    this.lastError = computed(() => this.main.lastError.value ?? this.presence.lastError.value)
    this.nextRetryAt = computed(() => this.main.nextRetryAt.value ?? this.presence.nextRetryAt.value)
  }

  start(): void {
    this.main.start()
    this.presence.start()
  }

  stop(): void {
    this.main.stop()
    this.presence.stop()
  }

  retryNow(): void {
    this.main.retryNow()
    this.presence.retryNow()
  }

  listen(callbacks: SessionCallbacks): () => void {
    return this.listeners.add(callbacks)
  }

  /** One of the session's streams, read into the store from where the store stands in it. */
  private follow(stream: SessionStreamName, path: string, offset: () => string, own: Pick<LiveStreamOptions, 'onGone' | 'onStatus'>): LiveStream {
    return new LiveStream({
      ...own,
      url: `${resolveBaseUrl(this.options)}${streamUrlPath(path)}`,
      fetch: this.options.fetch,
      backoff: this.options.backoff,
      offset,
      // Both streams wait for the store's snapshot (when it has none) before reading.
      prepare: () => this.ensureHydrated(),
      onBatch: batch => this.onBatch(stream, batch),
      onError: error => this.reportError(error),
      onReconnect: info => this.listeners.emit(listener => listener.onReconnect?.({ ...info, stream })),
    })
  }

  private ensureHydrated(): Promise<void> {
    if (this.store.hydrated) return Promise.resolve()
    // Both streams wait for the same snapshot request.
    this.hydrating ??= fetchSnapshot(this.sessionId, this.options)
      .then((snapshot) => {
        this.store.hydrate(snapshot)
      })
      .finally(() => {
        this.hydrating = undefined
      })
    return this.hydrating
  }

  private onBatch(stream: SessionStreamName, batch: LiveBatch): boolean {
    const fit = stream === 'session'
      ? this.store.applyStream(batch.items, batch.from, batch.to)
      : this.store.applyPresenceStream(batch.items, batch.from, batch.to)
    if (fit === 'gap') return false
    if (fit === 'duplicate') return true
    for (const item of batch.items) {
      const decoded = fromChange(item)
      if (!decoded) continue
      this.router.route(decoded.event)
      const meta: SessionEventMeta = { stream, offset: batch.to, operation: decoded.operation }
      this.listeners.emit(listener => listener.onEvent?.(decoded.event, meta))
    }
    return true
  }

  private reportError(error: unknown): void {
    const failure = toError(error)
    this.listeners.emit(listener => listener.onError?.(failure))
  }
}

/** Open subscriptions by Pinia and `baseUrl|sessionId`. */
const subscriptionsOf = perPinia<SessionSubscription>(subscription => subscription.stop())

export interface SessionHandle {
  subscription: SessionSubscription
  /** Gives this reference back; the last one closes the connection. Safe to call twice. */
  release: () => void
}

/**
 * The one live subscription of a session in this tab, shared by every composable that asks:
 * a browser allows about six connections per host, so never one per component.
 */
export function acquireSession(sessionId: string, options: SessionSubscriptionOptions = {}): SessionHandle {
  const pinia = options.pinia ?? getActivePinia()
  if (!pinia) throw new Error('A session subscription needs an active Pinia, or options.pinia')
  const base = resolveBaseUrl(options)
  const lease = subscriptionsOf(pinia).acquire(`${base}|${sessionId}`, () => {
    const subscription = new SessionSubscription(sessionId, useSessionStore(sessionId, pinia), { ...options, baseUrl: base })
    subscription.start()
    return subscription
  })
  return { subscription: lease.value, release: lease.release }
}

/** How many session subscriptions are open for a Pinia (devtools, tests). */
export function openSessionSubscriptions(pinia: Pinia | undefined = getActivePinia()): number {
  return pinia ? subscriptionsOf(pinia).size : 0
}

/**
 * For code outside components: follows a session (sharing the tab's connection) and calls back.
 * Returns the unsubscribe function.
 */
export function subscribeToSession(sessionId: string, callbacks: SessionCallbacks, options: SessionSubscriptionOptions = {}): () => void {
  const handle = acquireSession(sessionId, options)
  const stopListening = handle.subscription.listen(callbacks)
  return () => {
    stopListening()
    handle.release()
  }
}
