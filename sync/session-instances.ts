import { isClient } from '@vueuse/core'
import type { Pinia } from 'pinia'
import { computed, effectScope, onScopeDispose } from 'vue'
import type { ComputedRef, EffectScope } from 'vue'
import { useSessionStore } from '../stores/session'
import type { SessionStore } from '../stores/session'
import { captureCollaboratorKey } from '../transport/session-credentials'
import { perPinia } from './ref-counted'
import type { Lease } from './ref-counted'
import { SessionHistoryLoader } from './session-history'
import { acquireSession } from './session-subscription'
import type { SessionSubscription, SessionSubscriptionOptions } from './session-subscription'
import { writeManagerFor } from './write-manager'
import type { TrackedWrite, WriteManager } from './write-manager'

/** Who presence and approval decisions are attributed to. */
export interface SessionUser {
  userId: string
  displayName?: string
  avatarUrl?: string
}

/**
 * What every composable of one session shares: its store, its live subscription, this browser's
 * user and its writes. useSession, useTerminal and usePresence of one session (and every
 * component using them) hold the same instance, so there is one of each watcher and one capture
 * of the collaborate link's key, however many ask.
 */
export interface SessionInstance {
  readonly sessionId: string
  readonly store: SessionStore
  /** The live subscription; none during SSR, or when the instance was made not to follow. */
  readonly subscription?: SessionSubscription
  /** This browser's user: the default speaker of presence and approval decisions. */
  readonly user: ComputedRef<SessionUser>
  readonly manager: WriteManager
  /** This session's writes of the last minute. */
  readonly writes: ComputedRef<TrackedWrite[]>
  /** Pages earlier history into the store. */
  readonly history: SessionHistoryLoader
}

export interface SessionInstanceOptions extends SessionSubscriptionOptions {
  pinia: Pinia
  /** Follow the session live (in a browser only). */
  live: boolean
  /** Default: the write manager of the Pinia. */
  manager?: WriteManager
  /** Makes this browser's user, once per instance (the composables pass useIdentity's). */
  currentUser: () => ComputedRef<SessionUser>
}

interface ScopedInstance {
  instance: SessionInstance
  scope: EffectScope
}

// Built in a scope of its own, the instance outlives the component that asked first; the last
// release stops the scope, and with it the instance's watchers and its subscription.
const instancesOf = perPinia<ScopedInstance>(({ scope }) => scope.stop())

/**
 * The shared instance of a session, by Pinia, API origin, session id and whether it follows live
 * (the first holder's `fetch` and `backoff` are the ones its subscription uses).
 */
export function acquireSessionInstance(sessionId: string, options: SessionInstanceOptions): Lease<SessionInstance> {
  const key = `${options.baseUrl ?? ''}|${options.live ? 'live' : 'still'}|${sessionId}`
  const lease = instancesOf(options.pinia).acquire(key, () => {
    const scope = effectScope(true)
    return { instance: scope.run(() => createInstance(sessionId, options))!, scope }
  })
  return { value: lease.value.instance, release: lease.release }
}

function createInstance(sessionId: string, options: SessionInstanceOptions): SessionInstance {
  let subscription: SessionSubscription | undefined
  if (isClient) {
    // A collaborate link's `?key=` is kept for the session, and leaves the address bar, once.
    captureCollaboratorKey(sessionId)
    if (options.live) {
      const handle = acquireSession(sessionId, options)
      subscription = handle.subscription
      onScopeDispose(handle.release)
    }
  }
  const manager = options.manager ?? writeManagerFor(options.pinia)
  const store = useSessionStore(sessionId, options.pinia)
  return {
    sessionId,
    store,
    subscription,
    user: options.currentUser(),
    manager,
    writes: computed(() => manager.writes.filter(write => write.sessionId === sessionId)),
    history: new SessionHistoryLoader(sessionId, store, options),
  }
}

/** How many session instances a Pinia holds (devtools, tests). */
export function openSessionInstances(pinia: Pinia): number {
  return instancesOf(pinia).size
}
