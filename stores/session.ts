import { useIntervalFn } from '@vueuse/core'
import { defineStore, skipHydrate } from 'pinia'
import type { _ActionsTree, _GettersTree, _StoreWithState, Pinia, StateTree } from 'pinia'
import { computed, reactive, ref, shallowRef } from 'vue'
import type { Ref } from 'vue'
import type { SessionSnapshot, SessionSummary } from '#layers/durable-sessions/shared/sessions/api'
import type { AgentState, Answer, Chunk, Presence, Prompt, SessionEvent, TerminalEntry, ToolCall, WorkflowEvent } from '#layers/durable-sessions/shared/sessions/channels'
import { applyChange, hasEntity } from '#layers/durable-sessions/shared/sessions/reducer'
import type { AgentMessage, ConversationEntry, SessionState } from '#layers/durable-sessions/shared/sessions/reducer'
import { selectApprovalDecisions, selectInputHistory, selectParticipants, selectPendingApprovals } from '#layers/durable-sessions/shared/sessions/selectors'
import { toChange } from '#layers/durable-sessions/shared/sessions/wire'
import { conversationKey } from '#layers/durable-sessions/shared/sessions/window'
import type { HistoryPage, SessionHistory } from '#layers/durable-sessions/shared/sessions/window'
import { mergeEarlier } from '../lib/history-merge'
import { compareOffsets, fitBatch, STREAM_START_OFFSET } from '../lib/offsets'
import type { BatchFit } from '../lib/offsets'

/** How often the presence window is re-evaluated: someone who left drops out at most this late. */
const PRESENCE_CLOCK_MS = 5_000

/** Identifies one optimistic write of an entity, so only the latest write of it may roll back. */
export type LocalWriteToken = number

/** The channels this client writes optimistically. */
type LocalChannel = 'terminal' | 'workflow' | 'presence' | 'prompts'
export type LocalEvent = Extract<SessionEvent, { channel: LocalChannel }>

// Vue types `ref<T>()` and `reactive<T>()` with a deep UnwrapRef<T>, which recurses without end on
// the JSON type of tool call input and output (TS2589). Session state holds no nested refs, so the
// state keeps its plain types; at runtime these are ref() and reactive().
function stateRef<T>(value: T): Ref<T> {
  return ref(value) as Ref<T>
}

function setupSessionStore() {
  // State: exactly what the SSR payload carries to the browser, offsets included, so the page
  // resumes live from where the server rendered it.
  const session = stateRef<SessionSummary | null>(null)
  const chunks = stateRef<Chunk[]>([])
  const messages = stateRef<AgentMessage[]>([])
  const toolCalls = stateRef<ToolCall[]>([])
  const terminal = stateRef<TerminalEntry[]>([])
  const workflow = stateRef<WorkflowEvent[]>([])
  const agentState = stateRef<Record<string, AgentState>>({})
  const presence = stateRef<Record<string, Presence>>({})
  const prompts = stateRef<Prompt[]>([])
  const answers = stateRef<Answer[]>([])
  const conversation = stateRef<ConversationEntry[]>([])
  /** Main stream offset the collections include everything before. */
  const offset = ref(STREAM_START_OFFSET)
  /** The same for the presence stream. */
  const presenceOffset = ref(STREAM_START_OFFSET)
  /**
   * Where each list's earlier history continues on the server (null: the store holds it all).
   * The store holds only the window it was hydrated with, the pages loaded since and what
   * arrived live, so a session of any length costs the browser what its reader looked at.
   */
  const history = stateRef<SessionHistory | null>(null)
  const hydrated = ref(false)

  // The shared reducer folds into a SessionState; this one is a view over the refs above.
  const state = reactive<object>({ chunks, messages, toolCalls, terminal, workflow, agentState, presence, prompts, answers, conversation }) as SessionState

  // Client-only clock for the presence window; useIntervalFn does not start during SSR.
  const now = shallowRef(Date.now())
  useIntervalFn(() => {
    now.value = Date.now()
  }, PRESENCE_CLOCK_MS)

  // Optimistic entities not yet echoed by the stream, by `type:key`, with their latest write.
  // Bookkeeping of this tab only, never state: it must not travel in the SSR payload.
  const localWrites = new Map<string, LocalWriteToken>()
  let nextToken = 1

  const participants = computed(() => selectParticipants(presence.value, now.value))
  const onlineCount = computed(() => participants.value.length)
  const pendingApprovals = computed(() => selectPendingApprovals(workflow.value))
  const approvalDecisions = computed(() => selectApprovalDecisions(workflow.value))
  const inputHistory = computed(() => selectInputHistory(terminal.value))
  const agents = computed(() => Object.values(agentState.value))

  /**
   * Replaces everything with a snapshot, unless the store already stands at or past it (a late
   * answer must not move the store backwards). `force` replaces regardless (410 recovery).
   */
  function hydrate(snapshot: SessionSnapshot, options: { force?: boolean } = {}): boolean {
    const force = options.force === true || !hydrated.value
    if (!force && compareOffsets(snapshot.offset, offset.value) <= 0) return false
    session.value = snapshot.session
    chunks.value = snapshot.state.chunks
    messages.value = snapshot.state.messages
    toolCalls.value = snapshot.state.toolCalls
    terminal.value = snapshot.state.terminal
    workflow.value = snapshot.state.workflow
    agentState.value = snapshot.state.agentState
    prompts.value = snapshot.state.prompts
    answers.value = snapshot.state.answers
    conversation.value = snapshot.state.conversation
    history.value = snapshot.history ?? null
    offset.value = snapshot.offset
    if (force || compareOffsets(snapshot.presenceOffset, presenceOffset.value) > 0) {
      presence.value = snapshot.state.presence
      presenceOffset.value = snapshot.presenceOffset
    }
    hydrated.value = true
    localWrites.clear()
    return true
  }

  /** Folds a main-stream batch `[from, to)` in, only if it starts exactly at `offset`. */
  function applyStream(items: readonly unknown[], from: string, to: string): BatchFit {
    const fit = fitBatch(offset.value, from, to)
    if (fit !== 'next') return fit
    for (const item of items) fold(item)
    offset.value = to
    return fit
  }

  /**
   * Puts a page of earlier history (the answer to a request for the items before `before`) into
   * its lists. False when the store's history no longer continues at `before` (a page answered
   * twice, or a new snapshot meanwhile): nothing changes then.
   */
  function prependHistory(page: HistoryPage, before: string): boolean {
    const cursor = history.value?.[page.list]
    if (!cursor || cursor.before !== before) return false
    const pageIsNewer = compareOffsets(page.offset, offset.value) >= 0
    const byId = (item: { id: string }) => item.id
    const merge = <T>(held: Ref<T[]>, items: T[] | undefined, keyOf: (item: T) => string, at: string | null = null) => {
      if (items?.length) held.value = mergeEarlier(held.value, items, { keyOf, before: at, pageIsNewer })
    }
    const { state: slice } = page
    merge(conversation, slice.conversation, conversationKey, before)
    merge(messages, slice.messages, byId)
    merge(prompts, slice.prompts, byId)
    merge(answers, slice.answers, byId)
    merge(toolCalls, slice.toolCalls, byId, before)
    merge(terminal, slice.terminal, byId, before)
    merge(workflow, slice.workflow, byId, before)
    history.value = { ...history.value!, [page.list]: page.cursor }
    return true
  }

  /** The same for the presence stream. */
  function applyPresenceStream(items: readonly unknown[], from: string, to: string): BatchFit {
    const fit = fitBatch(presenceOffset.value, from, to)
    if (fit !== 'next') return fit
    for (const item of items) fold(item)
    presenceOffset.value = to
    return fit
  }

  /** Presence re-read from the session details (after its history was trimmed under us). */
  function replacePresence(records: Presence[], at: string): void {
    presence.value = Object.fromEntries(records.map(record => [record.userId, record]))
    presenceOffset.value = at
  }

  /** Shows a write before the server confirms it; its echo (same key) later replaces it in place. */
  function applyLocal(event: LocalEvent, operation: 'upsert' | 'delete' = 'upsert'): LocalWriteToken {
    const change = toChange(event, operation === 'delete' ? 'delete' : hasEntity(state, event) ? 'update' : 'insert', new Date().toISOString())
    const token = nextToken++
    localWrites.set(`${change.type}:${change.key}`, token)
    applyChange(state, change)
    return token
  }

  /**
   * Undoes an optimistic write that failed: restores `previous`, or removes the entity. A no-op
   * (false) when the stream has echoed the entity since, or a newer local write replaced it.
   */
  function rollbackLocal(event: LocalEvent, token: LocalWriteToken, previous?: LocalEvent['data']): boolean {
    const change = toChange(event, 'update', new Date().toISOString())
    const id = `${change.type}:${change.key}`
    if (localWrites.get(id) !== token) return false
    localWrites.delete(id)
    if (previous) {
      applyChange(state, toChange({ channel: event.channel, data: previous } as LocalEvent, 'update', new Date().toISOString()))
    }
    else {
      // The reducer's removal keeps its index caches (and, for a prompt, the conversation) right.
      applyChange(state, toChange(event, 'delete', new Date().toISOString()))
    }
    return true
  }

  function fold(message: unknown): void {
    if (localWrites.size > 0) {
      const { type, key } = (message ?? {}) as { type?: unknown, key?: unknown }
      if (typeof type === 'string' && typeof key === 'string') localWrites.delete(`${type}:${key}`)
    }
    applyChange(state, message)
  }

  return {
    session,
    chunks,
    messages,
    toolCalls,
    terminal,
    workflow,
    agentState,
    presence,
    prompts,
    answers,
    conversation,
    offset,
    presenceOffset,
    history,
    hydrated,
    now: skipHydrate(now),
    participants,
    onlineCount,
    pendingApprovals,
    approvalDecisions,
    inputHistory,
    agents,
    hydrate,
    applyStream,
    prependHistory,
    applyPresenceStream,
    replacePresence,
    applyLocal,
    rollbackLocal,
  }
}

const storeId = (sessionId: string) => `session:${sessionId}`

type SessionStoreSetup = ReturnType<typeof setupSessionStore>

/**
 * The store with its refs unwrapped one level. Pinia's own type unwraps deeply, and on the JSON
 * type of tool call input/output that recursion exceeds TypeScript's limit (TS2589) wherever a
 * store field meets a channel type; the state holds no nested refs, so one level is exact.
 */
export type SessionStore = { [K in keyof SessionStoreSetup]: SessionStoreSetup[K] extends Ref<infer V> ? V : SessionStoreSetup[K] }
  & _StoreWithState<string, StateTree, _GettersTree<StateTree>, _ActionsTree>

/** The store of one session: its channels as the shared reducer folds them, and where it stands. */
export function useSessionStore(sessionId: string, pinia?: Pinia | null): SessionStore {
  // A definition per call, not cached: Pinia keeps the store by id, and a cache of definitions
  // would grow with every session a long-running SSR server renders.
  return defineStore(storeId(sessionId), setupSessionStore)(pinia) as unknown as SessionStore
}
