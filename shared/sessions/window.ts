import type { ConversationEntry, SessionState } from './reducer'
import { selectPendingApprovals } from './selectors'

/**
 * A long session is shipped as it appears on screen: the newest window of each list, plus what
 * must always be complete however old (running tool calls, pending approvals, agent state,
 * participants). Older history pages in by request, a page before a cursor at a time, from the
 * server's materialised state (see README "Long sessions" for why not from the stream).
 */
export const HISTORY_LISTS = ['conversation', 'toolCalls', 'terminal', 'workflow'] as const
export type HistoryList = typeof HISTORY_LISTS[number]

/** Items of each list in the first render and in each page: a little more than each panel shows at once. */
export const WINDOW_SIZES: Readonly<Record<HistoryList, number>> = { conversation: 16, toolCalls: 16, terminal: 40, workflow: 20 }
/**
 * Characters of prompt and message text in one window or page of the conversation: messages vary
 * from a word to pages, and a count alone would not bound the bytes. The newest entry always goes.
 */
export const CONVERSATION_TEXT_BUDGET = 16_000
/** The largest page of earlier history one request may ask for. */
export const MAX_HISTORY_PAGE = 200

/** Where a list's earlier history continues: before the item of key `before`, `remaining` items. */
export interface HistoryCursor {
  /** Key of the oldest item of the contiguous window held (null: nothing earlier). */
  before: string | null
  /** Items before it that are not held. */
  remaining: number
}

export type SessionHistory = Record<HistoryList, HistoryCursor>

/** The lists a page of one list's history fills. */
export type HistorySlice = Partial<Pick<SessionState, 'conversation' | 'messages' | 'prompts' | 'answers' | 'toolCalls' | 'terminal' | 'workflow'>>

/** One page of earlier history, taken from the server's state at `offset`. */
export interface HistoryPage {
  list: HistoryList
  offset: string
  /** Items in stream order, oldest first. */
  state: HistorySlice
  /** Where the next earlier page starts. */
  cursor: HistoryCursor
}

/** The key of a conversation entry in cursors: prompts and messages have separate id spaces. */
export const conversationKey = (entry: ConversationEntry) => `${entry.kind}:${entry.id}`

const keyOf: Record<HistoryList, (item: never) => string> = {
  conversation: conversationKey,
  toolCalls: (item: { id: string }) => item.id,
  terminal: (item: { id: string }) => item.id,
  workflow: (item: { id: string }) => item.id,
}

/** The key of an item of a history list (see `before` of HistoryCursor). */
export function historyKey<L extends HistoryList>(list: L, item: SessionState[L][number]): string {
  return (keyOf[list] as (item: SessionState[L][number]) => string)(item)
}

/**
 * Where a conversation window or page ending at `end` starts: at most `size` entries back, and no
 * further once their text passes the budget (one entry at least).
 */
function conversationStart(state: SessionState, end: number, size: number): number {
  let start = end
  let text = 0
  while (start > 0 && end - start < size) {
    const length = textLength(state, state.conversation[start - 1]!)
    if (start < end && text + length > CONVERSATION_TEXT_BUDGET) break
    text += length
    start--
  }
  return start
}

/** Searched from the end: windows and pages near it, which are what readers load, find theirs at once. */
function textLength(state: SessionState, entry: ConversationEntry): number {
  const items: { id: string, text: string }[] = entry.kind === 'message' ? state.messages : state.prompts
  return items.findLast(item => item.id === entry.id)?.text.length ?? 0
}

function cursorAt(list: HistoryList, items: readonly unknown[], start: number, heldBefore = 0): HistoryCursor {
  return start === 0 ? { before: null, remaining: 0 } : { before: historyKey(list, items[start] as never), remaining: start - heldBefore }
}

/** The messages, prompts and answers that conversation entries refer to, in state order. */
function conversationParts(state: SessionState, entries: readonly ConversationEntry[]): Required<Pick<HistorySlice, 'messages' | 'prompts' | 'answers'>> {
  const messageIds = new Set<string>()
  const promptIds = new Set<string>()
  for (const entry of entries) (entry.kind === 'message' ? messageIds : promptIds).add(entry.id)
  return {
    messages: state.messages.filter(message => messageIds.has(message.id)),
    prompts: state.prompts.filter(prompt => promptIds.has(prompt.id)),
    // An answer's id is its prompt's.
    answers: state.answers.filter(answer => promptIds.has(answer.id)),
  }
}

/**
 * The state as the page first shows it: the newest `sizes` of each list (of the conversation, no
 * more than CONVERSATION_TEXT_BUDGET of text), older items only when
 * they must stay complete (a tool call not finished or one a shown answer refers to, an
 * approval nobody decided), no chunks (messages carry their text). Items are shared, not copied.
 */
export function windowState(state: SessionState, sizes: Readonly<Record<HistoryList, number>> = WINDOW_SIZES): { state: SessionState, history: SessionHistory } {
  const startOf = (list: HistoryList) => Math.max(0, state[list].length - sizes[list])
  const firstEntry = conversationStart(state, state.conversation.length, sizes.conversation)
  const conversation = state.conversation.slice(firstEntry)
  const parts = conversationParts(state, conversation)

  const answeredToolCalls = new Set<string>()
  for (const answer of parts.answers) {
    for (const part of answer.parts) if (part.type === 'tool') answeredToolCalls.add(part.toolCallId)
  }
  const toolCallsStart = startOf('toolCalls')
  const olderToolCalls = state.toolCalls.slice(0, toolCallsStart)
    .filter(call => call.status === 'pending' || call.status === 'running' || answeredToolCalls.has(call.id))

  const workflowStart = startOf('workflow')
  const pendingIds = new Set(selectPendingApprovals(state.workflow).map(event => event.id))
  const olderWorkflow = state.workflow.slice(0, workflowStart).filter(event => pendingIds.has(event.id))

  const terminalStart = startOf('terminal')
  return {
    state: {
      ...state,
      chunks: [],
      conversation,
      ...parts,
      toolCalls: [...olderToolCalls, ...state.toolCalls.slice(toolCallsStart)],
      terminal: state.terminal.slice(terminalStart),
      workflow: [...olderWorkflow, ...state.workflow.slice(workflowStart)],
    },
    history: {
      conversation: cursorAt('conversation', state.conversation, firstEntry),
      toolCalls: cursorAt('toolCalls', state.toolCalls, toolCallsStart, olderToolCalls.length),
      terminal: cursorAt('terminal', state.terminal, terminalStart),
      workflow: cursorAt('workflow', state.workflow, workflowStart, olderWorkflow.length),
    },
  }
}

/**
 * Up to `limit` items of `list` just before the item keyed `before` (of the conversation, within
 * CONVERSATION_TEXT_BUDGET); undefined when the state has
 * no such item (it was deleted since). A conversation page brings its messages, prompts and answers.
 */
export function historyPage(state: SessionState, list: HistoryList, before: string, limit: number): Omit<HistoryPage, 'offset'> | undefined {
  const items = state[list] as readonly unknown[]
  const end = items.findIndex(item => historyKey(list, item as never) === before)
  if (end < 0) return undefined
  const start = list === 'conversation' ? conversationStart(state, end, limit) : Math.max(0, end - limit)
  const page = items.slice(start, end)
  const slice: HistorySlice = list === 'conversation'
    ? { conversation: page as ConversationEntry[], ...conversationParts(state, page as ConversationEntry[]) }
    : { [list]: page }
  return { list, state: slice, cursor: cursorAt(list, items, start) }
}
