import { isClient, tryOnScopeDispose } from '@vueuse/core'
import { computed, shallowRef, toValue, watch } from 'vue'
import type { ComputedRef, MaybeRefOrGetter } from 'vue'
import type { PresenceBody } from '#layers/durable-sessions/shared/sessions/api'
import type { AgentState, Answer, Channel, Presence, Prompt, TerminalEntry, ToolCall, WorkflowEvent } from '#layers/durable-sessions/shared/sessions/channels'
import type { AgentMessage, ConversationEntry } from '#layers/durable-sessions/shared/sessions/reducer'
import type { ChannelHandler, SessionEventRouter } from '#layers/durable-sessions/shared/sessions/router'
import type { HistoryList, SessionHistory } from '#layers/durable-sessions/shared/sessions/window'
import type { SessionStore } from '../stores/session'
import { currentPinia } from '../sync/pinia'
import type { Lease } from '../sync/ref-counted'
import { acquireSessionInstance } from '../sync/session-instances'
import type { SessionInstance, SessionUser } from '../sync/session-instances'
import type { SessionCallbacks, SessionSubscription, SessionSubscriptionOptions } from '../sync/session-subscription'
import { sendApprovalDecision, sendPresence, sendPrompt, sendTerminalInput, writeOptionsOf } from '../sync/session-writes'
import type { SendResult, SessionWriteOptions, TerminalInputCallbacks, WriteCallbacks } from '../sync/session-writes'
import type { TrackedWrite } from '../sync/write-manager'
import type { SessionApiError } from '../transport/errors'
import type { LiveStatus } from '../transport/live-stream'
import { rememberCollaboratorKey } from '../transport/session-credentials'
import { useIdentity } from './useIdentity'

export interface UseSessionOptions extends SessionSubscriptionOptions {
  /** Follow the session live. Only ever in the browser; during SSR the store is read as hydrated. Default true. */
  live?: boolean
  /**
   * The collaborator key of a collaborate link, kept for this session and sent on writes.
   * Default: taken from the page URL's `?key=` when there is one.
   */
  collaboratorKey?: MaybeRefOrGetter<string | null | undefined>
  /** Speaker of presence updates and approval decisions. Default: this browser's user (useIdentity()). */
  user?: MaybeRefOrGetter<SessionUser>
  /** Options for writes: headers (default: stored credentials), retries (default 3). */
  writes?: Pick<SessionWriteOptions, 'headers' | 'retries' | 'manager'>
}

export type PresenceUpdate = Partial<Pick<PresenceBody, 'cursor' | 'displayName' | 'avatarUrl' | 'action'>>

export interface UseSessionReturn {
  store: ComputedRef<SessionStore>
  /** Who this component's presence and decisions speak as: `options.user`, else this browser's user. */
  user: ComputedRef<SessionUser>
  messages: ComputedRef<AgentMessage[]>
  toolCalls: ComputedRef<ToolCall[]>
  /** Presence records by user id (including ones gone quiet; see `participants`). */
  presence: ComputedRef<Record<string, Presence>>
  /** Presence seen in the last 30 s, earliest joiner first. */
  participants: ComputedRef<Presence[]>
  terminal: ComputedRef<TerminalEntry[]>
  workflow: ComputedRef<WorkflowEvent[]>
  agentState: ComputedRef<Record<string, AgentState>>
  /** What users asked the agents, in stream order. */
  prompts: ComputedRef<Prompt[]>
  /** The agents' answers to them (an answer's id is its prompt's). */
  answers: ComputedRef<Answer[]>
  /** Prompts and agent messages in the order they first appeared. */
  conversation: ComputedRef<ConversationEntry[]>
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
  /** Where each list's earlier history continues (null: the store holds all of it). */
  history: ComputedRef<SessionHistory | null>
  /** The lists whose earlier page is loading. */
  loadingEarlier: ComputedRef<ReadonlySet<HistoryList>>
  /** Loads the page of `list` before the oldest item held; resolves false when there is none. */
  loadEarlier: (list: HistoryList) => Promise<boolean>
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
  /** Asks the session's agent (or `agentId`), named as this user; needs the collaborator key or agent token. */
  ask: (text: string, options?: { agentId?: string } & WriteCallbacks<Prompt>) => Promise<SendResult<Prompt>>
  /** Reconnect now instead of waiting for `nextRetryAt`. */
  retryNow: () => void
}

/** This browser's user, from its identity: made once per session instance. */
function browserUser(): ComputedRef<SessionUser> {
  const identity = useIdentity()
  return computed(() => ({ userId: identity.userId.value, displayName: identity.displayName.value || undefined }))
}

/**
 * A session's channels, live: state from the Pinia store (SSR-hydrated or loaded from the
 * snapshot), kept current by the tab's one shared subscription, plus optimistic writes. Every
 * useSession (and useTerminal, usePresence) of a session holds one shared instance of it
 * (sync/session-instances.ts); what a call adds of its own is its handlers and write options.
 */
export function useSession(sessionId: MaybeRefOrGetter<string>, options: UseSessionOptions = {}): UseSessionReturn {
  const { live = true } = options
  const pinia = currentPinia(options.pinia)
  if (!pinia) throw new Error('useSession needs Pinia (app.use(createPinia()) or options.pinia)')
  const id = computed(() => toValue(sessionId))
  const lease = shallowRef<Lease<SessionInstance>>()

  // Router handlers and callbacks of this component, re-attached to whichever session is current.
  type Attachment = (subscription: SessionSubscription) => () => void
  const attachments = new Set<Attachment>()
  const detachers = new Map<Attachment, () => void>()
  const attach = (attachment: Attachment) => {
    const subscription = lease.value?.value.subscription
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

  watch(id, (current) => {
    detachAll()
    lease.value?.release()
    lease.value = acquireSessionInstance(current, { ...options, pinia, live, manager: options.writes?.manager, currentUser: browserUser })
    for (const attachment of attachments) attach(attachment)
  }, { immediate: true })
  tryOnScopeDispose(() => {
    detachAll()
    attachments.clear()
    lease.value?.release()
    lease.value = undefined
  })
  if (isClient && options.collaboratorKey !== undefined) {
    watch([id, () => toValue(options.collaboratorKey)], ([current, key]) => {
      if (key) rememberCollaboratorKey(current, key)
    }, { immediate: true })
  }

  const instance = computed(() => lease.value!.value)
  const store = computed(() => instance.value.store)
  const subscription = computed(() => instance.value.subscription)
  const user = computed<SessionUser>(() => options.user === undefined ? instance.value.user.value : toValue(options.user))
  const writeOptions = writeOptionsOf(options)
  const writes = computed(() => instance.value.writes.value)
  const status = computed<LiveStatus>(() => subscription.value?.status.value ?? 'connecting')

  return {
    store,
    user,
    messages: computed(() => store.value.messages),
    toolCalls: computed(() => store.value.toolCalls),
    presence: computed(() => store.value.presence),
    participants: computed(() => store.value.participants),
    terminal: computed(() => store.value.terminal),
    workflow: computed(() => store.value.workflow),
    agentState: computed(() => store.value.agentState),
    prompts: computed(() => store.value.prompts),
    answers: computed(() => store.value.answers),
    conversation: computed(() => store.value.conversation),
    pendingApprovals: computed(() => store.value.pendingApprovals),
    status,
    isConnected: computed(() => status.value === 'live'),
    isLoading: computed(() => !store.value.hydrated),
    error: computed(() => subscription.value?.lastError.value ?? null),
    nextRetryAt: computed(() => subscription.value?.nextRetryAt.value ?? null),
    offset: computed(() => store.value.offset),
    history: computed(() => store.value.history),
    loadingEarlier: computed(() => instance.value.history.loading.value),
    loadEarlier: list => instance.value.history.load(list),
    router: computed(() => subscription.value?.router),
    on: (channel, handler) => addAttachment(subscription => subscription.router.on(channel, handler)),
    listen: callbacks => addAttachment(subscription => subscription.listen(callbacks)),
    onReconnect: callback => addAttachment(subscription => subscription.listen({ onReconnect: callback })),
    writes,
    writeError: computed(() => writes.value.findLast(write => write.status === 'failed')?.error ?? null),
    sendInput: (input, callbacks) => sendTerminalInput(id.value, input, callbacks, writeOptions),
    updatePresence: (update = {}) => {
      const { userId, displayName, avatarUrl } = user.value
      return sendPresence(id.value, { userId, displayName, avatarUrl, ...update, action: update.action ?? 'update' }, writeOptions)
    },
    approve: (requestId, reason) => sendApprovalDecision(id.value, requestId, 'approved', { actor: user.value.displayName, reason }, {}, writeOptions),
    reject: (requestId, reason) => sendApprovalDecision(id.value, requestId, 'rejected', { actor: user.value.displayName, reason }, {}, writeOptions),
    ask: (text, { agentId, ...callbacks } = {}) => sendPrompt(id.value, text, { actor: user.value.displayName, actorId: user.value.userId, agentId }, callbacks, writeOptions),
    retryNow: () => subscription.value?.retryNow(),
  }
}
