import { isClient, tryOnScopeDispose } from '@vueuse/core'
import { computed, shallowRef, toValue, watch } from 'vue'
import type { ComputedRef, MaybeRefOrGetter } from 'vue'
import type { PresenceBody } from '#layers/durable-sessions/shared/sessions/api'
import type { AgentState, Channel, Presence, TerminalEntry, ToolCall, WorkflowEvent } from '#layers/durable-sessions/shared/sessions/channels'
import type { AgentMessage } from '#layers/durable-sessions/shared/sessions/reducer'
import type { ChannelHandler, SessionEventRouter } from '#layers/durable-sessions/shared/sessions/router'
import { useSessionStore } from '../stores/session'
import type { SessionStore } from '../stores/session'
import type { SessionApiError } from '../transport/errors'
import type { LiveStatus } from '../transport/live-stream'
import { currentPinia } from '../sync/pinia'
import { captureCollaboratorKey, rememberCollaboratorKey } from '../transport/session-credentials'
import { acquireSession } from '../sync/session-subscription'
import type { SessionCallbacks, SessionHandle, SessionSubscription, SessionSubscriptionOptions } from '../sync/session-subscription'
import { sendApprovalDecision, sendPresence, sendTerminalInput } from '../sync/session-writes'
import type { SendResult, SessionWriteOptions, TerminalInputCallbacks } from '../sync/session-writes'
import { writeManagerFor } from '../sync/write-manager'
import type { TrackedWrite } from '../sync/write-manager'
import { useIdentity } from './useIdentity'

/** Who presence and approval decisions are attributed to. */
export interface SessionUser {
  userId: string
  displayName?: string
  avatarUrl?: string
}

export interface UseSessionOptions extends SessionSubscriptionOptions {
  /** Follow the session live. Only ever in the browser; during SSR the store is read as hydrated. Default true. */
  live?: boolean
  /**
   * The collaborator key of a collaborate link, kept for this session and sent on writes.
   * Default: taken from the page URL's `?key=` when there is one.
   */
  collaboratorKey?: MaybeRefOrGetter<string | null | undefined>
  /** Speaker of presence updates and approval decisions. Default: useIdentity(). */
  user?: MaybeRefOrGetter<SessionUser>
  /** Options for writes: headers (default: stored credentials), retries (default 3). */
  writes?: Pick<SessionWriteOptions, 'headers' | 'retries' | 'manager'>
}

export type PresenceUpdate = Partial<Pick<PresenceBody, 'cursor' | 'displayName' | 'avatarUrl' | 'action'>>

export interface UseSessionReturn {
  store: ComputedRef<SessionStore>
  messages: ComputedRef<AgentMessage[]>
  toolCalls: ComputedRef<ToolCall[]>
  /** Presence records by user id (including ones gone quiet; see `participants`). */
  presence: ComputedRef<Record<string, Presence>>
  /** Presence seen in the last 30 s, earliest joiner first. */
  participants: ComputedRef<Presence[]>
  terminal: ComputedRef<TerminalEntry[]>
  workflow: ComputedRef<WorkflowEvent[]>
  agentState: ComputedRef<Record<string, AgentState>>
  pendingApprovals: ComputedRef<WorkflowEvent[]>
  /** `connecting` also during SSR and when `live` is false. */
  status: ComputedRef<LiveStatus>
  isConnected: ComputedRef<boolean>
  /** No state yet: neither SSR-hydrated nor a snapshot loaded. */
  isLoading: ComputedRef<boolean>
  /** The last connection error, cleared when live again. */
  error: ComputedRef<SessionApiError | null>
  /** When the next reconnect attempt starts (ms since epoch), for a countdown. */
  nextRetryAt: ComputedRef<number | null>
  /** Main stream offset the store stands at. */
  offset: ComputedRef<string>
  /** The session's shared router (undefined during SSR or when not live): handlers added here are shared. */
  router: ComputedRef<SessionEventRouter | undefined>
  /** Adds a handler for this component's lifetime; it follows session id changes. Returns its remover. */
  on: <C extends Channel>(channel: C, handler: ChannelHandler<C>) => () => void
  /** Subscription callbacks (onEvent, onReconnect, onError, onStatus, onClose) for this component's lifetime. */
  listen: (callbacks: SessionCallbacks) => () => void
  /** Called when a stream is live again after failures; returns its remover. */
  onReconnect: (callback: NonNullable<SessionCallbacks['onReconnect']>) => () => void
  /** This session's writes of the last minute. */
  writes: ComputedRef<TrackedWrite[]>
  /** Error of the latest failed write of this session. */
  writeError: ComputedRef<SessionApiError | null>
  sendInput: (input: string, callbacks?: TerminalInputCallbacks) => Promise<SendResult<TerminalEntry>>
  updatePresence: (update?: PresenceUpdate) => Promise<SendResult<Presence>>
  approve: (requestId: string, reason?: string) => Promise<SendResult<WorkflowEvent>>
  reject: (requestId: string, reason?: string) => Promise<SendResult<WorkflowEvent>>
  /** Reconnect now instead of waiting for `nextRetryAt`. */
  retryNow: () => void
}

/**
 * A session's channels, live: state from the Pinia store (SSR-hydrated or loaded from the
 * snapshot), kept current by the tab's one shared subscription, plus optimistic writes.
 */
export function useSession(sessionId: MaybeRefOrGetter<string>, options: UseSessionOptions = {}): UseSessionReturn {
  const { live = true } = options
  const pinia = currentPinia(options.pinia)
  if (!pinia) throw new Error('useSession needs Pinia (app.use(createPinia()) or options.pinia)')
  const id = computed(() => toValue(sessionId))
  const store = computed(() => useSessionStore(id.value, pinia))
  const handle = shallowRef<SessionHandle>()
  const identity = options.user === undefined ? useIdentity() : undefined
  const user = computed<SessionUser>(() => options.user === undefined
    ? { userId: identity!.userId.value, displayName: identity!.displayName.value || undefined }
    : toValue(options.user))

  // Router handlers and callbacks of this component, re-attached to whichever session is current.
  type Attachment = (subscription: SessionSubscription) => () => void
  const attachments = new Set<Attachment>()
  const detachers = new Map<Attachment, () => void>()
  const attach = (attachment: Attachment) => {
    const subscription = handle.value?.subscription
    if (subscription) detachers.set(attachment, attachment(subscription))
  }
  const detachAll = () => {
    for (const detach of detachers.values()) detach()
    detachers.clear()
  }
  const addAttachment = (attachment: Attachment) => {
    attachments.add(attachment)
    attach(attachment)
    return () => {
      attachments.delete(attachment)
      detachers.get(attachment)?.()
      detachers.delete(attachment)
    }
  }

  if (isClient) {
    watch([id, () => toValue(options.collaboratorKey)], ([current, key]) => {
      if (key) rememberCollaboratorKey(current, key)
      else captureCollaboratorKey(current)
    }, { immediate: true })
  }
  if (isClient && live) {
    watch(id, (current) => {
      detachAll()
      handle.value?.release()
      handle.value = acquireSession(current, { ...options, pinia })
      for (const attachment of attachments) attach(attachment)
    }, { immediate: true })
    tryOnScopeDispose(() => {
      detachAll()
      attachments.clear()
      handle.value?.release()
      handle.value = undefined
    })
  }

  const subscription = computed(() => handle.value?.subscription)
  const manager = options.writes?.manager ?? writeManagerFor(pinia)
  const writeOptions = (): SessionWriteOptions => ({ ...options.writes, baseUrl: options.baseUrl, fetch: options.fetch, pinia, manager })
  const writes = computed(() => manager.writes.filter(write => write.sessionId === id.value))
  const status = computed<LiveStatus>(() => subscription.value?.status.value ?? 'connecting')

  return {
    store,
    messages: computed(() => store.value.messages),
    toolCalls: computed(() => store.value.toolCalls),
    presence: computed(() => store.value.presence),
    participants: computed(() => store.value.participants),
    terminal: computed(() => store.value.terminal),
    workflow: computed(() => store.value.workflow),
    agentState: computed(() => store.value.agentState),
    pendingApprovals: computed(() => store.value.pendingApprovals),
    status,
    isConnected: computed(() => status.value === 'live'),
    isLoading: computed(() => !store.value.hydrated),
    error: computed(() => subscription.value?.lastError.value ?? null),
    nextRetryAt: computed(() => subscription.value?.nextRetryAt.value ?? null),
    offset: computed(() => store.value.offset),
    router: computed(() => subscription.value?.router),
    on: (channel, handler) => addAttachment(subscription => subscription.router.on(channel, handler)),
    listen: callbacks => addAttachment(subscription => subscription.listen(callbacks)),
    onReconnect: callback => addAttachment(subscription => subscription.listen({ onReconnect: callback })),
    writes,
    writeError: computed(() => writes.value.findLast(write => write.status === 'failed')?.error ?? null),
    sendInput: (input, callbacks) => sendTerminalInput(id.value, input, callbacks, writeOptions()),
    updatePresence: (update = {}) => {
      const { userId, displayName, avatarUrl } = user.value
      return sendPresence(id.value, { userId, displayName, avatarUrl, ...update, action: update.action ?? 'update' }, writeOptions())
    },
    approve: (requestId, reason) => sendApprovalDecision(id.value, requestId, 'approved', { actor: user.value.displayName, reason }, {}, writeOptions()),
    reject: (requestId, reason) => sendApprovalDecision(id.value, requestId, 'rejected', { actor: user.value.displayName, reason }, {}, writeOptions()),
    retryNow: () => subscription.value?.retryNow(),
  }
}
