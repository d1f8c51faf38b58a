import { isClient, tryOnMounted, tryOnScopeDispose, useEventListener, useIntervalFn, useThrottleFn } from '@vueuse/core'
import { computed, shallowRef, toValue, watch } from 'vue'
import type { ComputedRef, MaybeRefOrGetter, Ref } from 'vue'
import type { PresenceAction, PresenceBody } from '#layers/durable-sessions/shared/sessions/api'
import type { Presence } from '#layers/durable-sessions/shared/sessions/channels'
import type { SessionUser } from '../sync/session-instances'
import { presenceHeaders, sendPresence, writeOptionsOf } from '../sync/session-writes'
import { sendPresenceOnUnload } from '../transport/session-api'
import { presenceKeyFor, rememberPresenceKey } from '../transport/session-credentials'
import { useSession } from './useSession'
import type { UseSessionOptions } from './useSession'

export interface CursorPosition {
  x: number
  y: number
}

/** A session and the user present in it. */
interface PresenceTarget {
  sessionId: string
  user: SessionUser
}

export interface UsePresenceOptions extends Omit<UseSessionOptions, 'user'> {
  /** Heartbeat interval in ms; the server counts a user present for 30 s after the last one. Default 10000. */
  heartbeatMs?: number
  /** At most one cursor update per this many ms, and one at a time; the last position is always sent. Default 50. */
  cursorThrottleMs?: number
  /** Join when mounted and leave when unmounted or the page is hidden for good. Default true. */
  immediate?: boolean
}

export interface UsePresenceReturn {
  /** Seen in the last 30 s, earliest joiner first, including this user. */
  participants: ComputedRef<Presence[]>
  /** Participants other than this user. */
  others: ComputedRef<Presence[]>
  onlineCount: ComputedRef<number>
  /** This user's cursor: moves at once, while the network sees it at most every `cursorThrottleMs`. */
  cursor: Readonly<Ref<CursorPosition | null>>
  isJoined: Readonly<Ref<boolean>>
  updateCursor: (x: number, y: number) => void
  join: () => Promise<void>
  leave: () => Promise<void>
}

/**
 * This user's presence in a session and everyone else's: join on mount, heartbeat, throttled
 * cursor, leave on unmount — and on `pagehide` by a keepalive request, since a plain fetch may
 * not outlive the page. The join's presence key (kept per session) goes with every later write;
 * when it is gone (refused, or another tab left), the next heartbeat joins again instead.
 */
export function usePresence(sessionId: MaybeRefOrGetter<string>, user?: MaybeRefOrGetter<SessionUser>, options: UsePresenceOptions = {}): UsePresenceReturn {
  const { heartbeatMs = 10_000, cursorThrottleMs = 50, immediate = true } = options
  const session = useSession(sessionId, { ...options, user })
  const me = session.user
  const id = computed(() => toValue(sessionId))
  const cursor = shallowRef<CursorPosition | null>(null)
  const isJoined = shallowRef(false)
  const writeOptions = writeOptionsOf(options)

  // Where and as whom this user joined: a leave or heartbeat goes there even after the id changed.
  let joinedAs: PresenceTarget | null = null
  // Whether the user should be present; `pagehide` leaves without changing it, so `pageshow` rejoins.
  let wanted = false
  // The join in flight (and where to): its answer brings the key, and until then it is not repeated.
  let joining: { target: PresenceTarget, answered: Promise<void> } | null = null

  const send = (target: PresenceTarget, action: PresenceAction, extra: Partial<PresenceBody> = {}) => {
    const { userId, displayName, avatarUrl } = target.user
    return sendPresence(target.sessionId, { userId, displayName, avatarUrl, action, ...extra }, writeOptions)
  }

  const hasKey = (target: PresenceTarget) => presenceKeyFor(target.sessionId, target.user.userId) !== undefined

  /** Joins (once at a time); cursor moves made while it was on its way follow its answer. */
  function sendJoin(target: PresenceTarget): Promise<void> {
    if (joining?.target === target) return joining.answered
    const answered = send(target, 'join', cursor.value ? { cursor: cursor.value } : {}).then((result) => {
      if (result.ok && cursor.value) void sendCursor()
    }).finally(() => {
      if (joining?.answered === answered) joining = null
    })
    joining = { target, answered }
    return answered
  }

  const heartbeat = useIntervalFn(() => {
    if (!joinedAs) return
    if (hasKey(joinedAs)) void send(joinedAs, 'heartbeat')
    else void sendJoin(joinedAs)
  }, heartbeatMs, { immediate: false })

  // An ended session refuses every write (409): presence stops there, sends no leave, and does not join again.
  const ended = computed(() => session.status.value === 'closed' || session.store.value.session?.status === 'ended')

  async function join(): Promise<void> {
    wanted = true
    if (!isClient || !me.value.userId || joinedAs || ended.value) return
    joinedAs = { sessionId: id.value, user: { ...me.value } }
    isJoined.value = true
    heartbeat.resume()
    await sendJoin(joinedAs)
  }

  /** Stops heartbeats and cursor moves; returns where this user was present. */
  function stop(): PresenceTarget | null {
    const target = joinedAs
    joinedAs = null
    isJoined.value = false
    heartbeat.pause()
    return target
  }

  /** Leaves without giving up the wish to be present (a session or user switch, page hide). */
  async function depart(): Promise<void> {
    const target = stop()
    // Without the key (the join is still unanswered) a leave would be refused: the record goes stale instead.
    if (target && hasKey(target)) await send(target, 'leave')
  }

  async function leave(): Promise<void> {
    wanted = false
    await depart()
  }

  // Cursor moves wait for the join's key (sendJoin sends the latest once it is there), and go one
  // at a time: two in flight may be committed in either order (by two instances behind a load
  // balancer, or concurrent transactions on PostgreSQL), and the older could win. Moves made
  // while one is on its way are sent, as the latest position, once it is answered.
  let cursorInFlight = false
  let cursorMoved = false
  const sendCursor = useThrottleFn(async () => {
    if (!joinedAs || !cursor.value || !hasKey(joinedAs)) return
    if (cursorInFlight) {
      cursorMoved = true
      return
    }
    cursorInFlight = true
    cursorMoved = false
    try {
      await send(joinedAs, 'update', { cursor: cursor.value })
    }
    finally {
      cursorInFlight = false
      if (cursorMoved) void sendCursor()
    }
  }, cursorThrottleMs, true, true)

  function updateCursor(x: number, y: number): void {
    cursor.value = { x, y }
    void sendCursor()
  }

  if (isClient) {
    if (immediate) tryOnMounted(() => void join())
    // The user id arrives once mounted when it comes from useIdentity; a new session or user rejoins.
    watch([id, () => me.value.userId], async ([sessionOf, userId]) => {
      if (joinedAs && (joinedAs.sessionId !== sessionOf || joinedAs.user.userId !== userId)) await depart()
      if (wanted && userId) await join()
    })
    tryOnScopeDispose(() => void leave())
    watch(ended, (isEnded) => {
      if (isEnded) stop()
    })
    // Unload: only a keepalive request is sure to be delivered as the page goes away. Back from the bfcache: rejoin.
    useEventListener(window, 'pagehide', () => {
      const target = stop()
      if (!target || !hasKey(target)) return
      const { userId, displayName, avatarUrl } = target.user
      sendPresenceOnUnload(target.sessionId, { userId, displayName, avatarUrl, action: 'leave' }, presenceHeaders(target.sessionId, userId), options)
      // The leave ends the key; a return from the bfcache joins afresh.
      rememberPresenceKey(target.sessionId, userId, undefined)
    })
    useEventListener(window, 'pageshow', (event: PageTransitionEvent) => {
      if (event.persisted && wanted) void join()
    })
  }

  const participants = session.participants
  return {
    participants,
    others: computed(() => participants.value.filter(entry => entry.userId !== me.value.userId)),
    onlineCount: computed(() => participants.value.length),
    cursor,
    isJoined,
    updateCursor,
    join,
    leave,
  }
}
