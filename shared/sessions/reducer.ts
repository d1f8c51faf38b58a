import type { AgentState, Answer, Chunk, Presence, Prompt, SessionEvent, TerminalEntry, ToolCall, WorkflowEvent } from './channels'
import type { Channel } from './channels'
import { fromChange, removalOf } from './wire'

/** Chunks of one agent turn, their text joined in stream order. */
export interface AgentMessage {
  id: string
  agentId: string
  turn: number
  text: string
  startedAt: string
  updatedAt: string
}

/** One entry of the conversation: a user's prompt or an agent's message (by their ids). */
export interface ConversationEntry {
  kind: 'prompt' | 'message'
  id: string
}

/**
 * A session materialised from its change messages. Plain JSON (it is the SSR payload);
 * collections keep stream order and are upserted by primary key.
 */
export interface SessionState {
  chunks: Chunk[]
  messages: AgentMessage[]
  toolCalls: ToolCall[]
  terminal: TerminalEntry[]
  workflow: WorkflowEvent[]
  agentState: Record<string, AgentState>
  presence: Record<string, Presence>
  prompts: Prompt[]
  answers: Answer[]
  /** Prompts and agent messages in the order they first appeared in the stream. */
  conversation: ConversationEntry[]
}

export function createSessionState(): SessionState {
  return { chunks: [], messages: [], toolCalls: [], terminal: [], workflow: [], agentState: {}, presence: {}, prompts: [], answers: [], conversation: [] }
}

/**
 * Folds one change message into the state, in place, and returns it. An insert or update costs
 * O(1), so a 10,000-event session materialises in milliseconds on the server and in the browser
 * alike; a chunk replaced or deleted costs its message (that message's text is joined again from
 * its own chunks), and a delete also closes the gap in its collection. Control messages, foreign
 * types and invalid values are ignored.
 */
export function applyChange(state: SessionState, message: unknown): SessionState {
  const removal = removalOf(message)
  if (removal) return removeEntity(state, removal.channel, removal.key)
  const decoded = fromChange(message)
  if (!decoded) return state
  const { event } = decoded
  switch (event.channel) {
    case 'chunks':
      applyChunk(state, event.data)
      break
    case 'toolCalls':
      upsert(state.toolCalls, event.data, event.data.id, byId)
      break
    case 'terminal':
      upsert(state.terminal, event.data, event.data.id, byId)
      break
    case 'workflow':
      upsert(state.workflow, event.data, event.data.id, byId)
      break
    case 'agentState':
      state.agentState[event.data.agentId] = event.data
      break
    case 'presence':
      state.presence[event.data.userId] = event.data
      break
    case 'prompts':
      if (!upsert(state.prompts, event.data, event.data.id, byId)) state.conversation.push({ kind: 'prompt', id: event.data.id })
      break
    case 'answers':
      upsert(state.answers, event.data, event.data.id, byId)
      break
  }
  return state
}

function removeEntity(state: SessionState, channel: Channel, key: string): SessionState {
  const splice = <T extends { id: string }>(items: T[]) => {
    const position = positionOf(items, key, byId)
    if (position !== undefined) items.splice(position, 1)
    return position
  }
  switch (channel) {
    case 'chunks': {
      const position = positionOf(state.chunks, key, byId)
      if (position === undefined) break
      const chunk = state.chunks[position]!
      messageChunksOf(state.chunks).remove(chunk)
      state.chunks.splice(position, 1)
      rebuildMessage(state, messageIdOf(chunk))
      break
    }
    case 'prompts':
      if (splice(state.prompts) !== undefined) leaveConversation(state, 'prompt', key)
      break
    case 'answers': splice(state.answers); break
    case 'toolCalls': splice(state.toolCalls); break
    case 'terminal': splice(state.terminal); break
    case 'workflow': splice(state.workflow); break
    case 'agentState': delete state.agentState[key]; break
    case 'presence': delete state.presence[key]; break
  }
  return state
}

/** Whether the state already holds the event's key: a new write of it is an update, not an insert. */
export function hasEntity(state: SessionState, event: SessionEvent): boolean {
  switch (event.channel) {
    case 'chunks': return positionOf(state.chunks, event.data.id, byId) !== undefined
    case 'toolCalls': return positionOf(state.toolCalls, event.data.id, byId) !== undefined
    case 'terminal': return positionOf(state.terminal, event.data.id, byId) !== undefined
    case 'workflow': return positionOf(state.workflow, event.data.id, byId) !== undefined
    case 'agentState': return event.data.agentId in state.agentState
    case 'presence': return event.data.userId in state.presence
    case 'prompts': return positionOf(state.prompts, event.data.id, byId) !== undefined
    case 'answers': return positionOf(state.answers, event.data.id, byId) !== undefined
  }
}

function leaveConversation(state: SessionState, kind: ConversationEntry['kind'], id: string): void {
  const at = state.conversation.findIndex(entry => entry.kind === kind && entry.id === id)
  if (at >= 0) state.conversation.splice(at, 1)
}

export function messageId(agentId: string, turn: number): string {
  return `${agentId}:${turn}`
}

const messageIdOf = (chunk: Chunk) => messageId(chunk.agentId, chunk.turn ?? 0)

function applyChunk(state: SessionState, chunk: Chunk): void {
  const position = positionOf(state.chunks, chunk.id, byId)
  const previous = position === undefined ? undefined : state.chunks[position]!
  // Taken before the change, while it still matches the array, and kept in step with it.
  const chunksByMessage = messageChunksOf(state.chunks)
  upsert(state.chunks, chunk, chunk.id, byId)
  if (previous) chunksByMessage.replace(previous, chunk)
  else chunksByMessage.add(chunk)
  const id = messageIdOf(chunk)
  const at = positionOf(state.messages, id, byId)
  if (at === undefined) {
    upsert(state.messages, { id, agentId: chunk.agentId, turn: chunk.turn ?? 0, text: chunk.text, startedAt: chunk.timestamp, updatedAt: chunk.timestamp }, id, byId)
    state.conversation.push({ kind: 'message', id })
  }
  else {
    const message = state.messages[at]!
    message.updatedAt = chunk.timestamp
    // A replaced chunk may sit anywhere in its turn: that one message is joined again.
    message.text = previous ? textOf(state, id) : message.text + chunk.text
  }
  // A replacement that moved the chunk to another turn (never seen in practice) leaves that one too.
  if (previous && messageIdOf(previous) !== id) rebuildMessage(state, messageIdOf(previous))
}

const textOf = (state: SessionState, id: string) => messageChunksOf(state.chunks).of(id).map(chunk => chunk.text).join('')

/** A message's text after one of its chunks left it; a message left without chunks goes. */
function rebuildMessage(state: SessionState, id: string): void {
  const position = positionOf(state.messages, id, byId)
  if (position === undefined) return
  if (messageChunksOf(state.chunks).of(id).length === 0) {
    state.messages.splice(position, 1)
    leaveConversation(state, 'message', id)
  }
  else state.messages[position]!.text = textOf(state, id)
}

/** The chunks of each message (one agent's turn), in stream order. */
class MessageChunks {
  private readonly byMessage = new Map<string, Chunk[]>()
  /** Chunks held, to tell whether this still describes its array. */
  size = 0
  /** Set when a chunk moved between messages: rebuilt from the array on next use. */
  stale = false

  constructor(chunks: readonly Chunk[]) {
    for (const chunk of chunks) this.add(chunk)
  }

  of(id: string): readonly Chunk[] {
    return this.byMessage.get(id) ?? []
  }

  add(chunk: Chunk): void {
    const id = messageIdOf(chunk)
    const list = this.byMessage.get(id)
    if (list) list.push(chunk)
    else this.byMessage.set(id, [chunk])
    this.size++
  }

  remove(chunk: Chunk): void {
    const id = messageIdOf(chunk)
    const list = this.byMessage.get(id) ?? []
    const at = list.findIndex(other => other.id === chunk.id)
    if (at < 0) return
    list.splice(at, 1)
    if (list.length === 0) this.byMessage.delete(id)
    this.size--
  }

  /** In place when it stays in its message; one that moved makes the whole record stale. */
  replace(previous: Chunk, next: Chunk): void {
    const list = this.byMessage.get(messageIdOf(previous)) ?? []
    const at = list.findIndex(other => other.id === previous.id)
    if (messageIdOf(previous) === messageIdOf(next) && at >= 0) list[at] = next
    else this.stale = true
  }
}

/**
 * The MessageChunks of each chunks array, kept beside the state so that the state itself stays
 * plain JSON (it is the SSR payload), and rebuilt when it no longer matches its array (a new
 * array after hydration, or a chunk that moved between messages).
 */
const messageChunks = new WeakMap<Chunk[], MessageChunks>()

function messageChunksOf(chunks: Chunk[]): MessageChunks {
  let entry = messageChunks.get(chunks)
  if (!entry || entry.stale || entry.size !== chunks.length) {
    entry = new MessageChunks(chunks)
    messageChunks.set(chunks, entry)
  }
  return entry
}

const byId = (item: { id: string }) => item.id

/**
 * Position of each key in a collection, cached per array object so the state itself stays
 * plain JSON. The cache is checked against the array and rebuilt when it no longer matches
 * (a new array after hydration, or an entry removed by a rollback).
 */
const indexes = new WeakMap<object, Map<string, number>>()

function positionOf<T>(items: T[], key: string, keyOf: (item: T) => string): number | undefined {
  let index = indexes.get(items)
  let position = index?.get(key)
  if (!index || index.size !== items.length || (position !== undefined && keyOf(items[position]!) !== key)) {
    index = new Map(items.map((item, at) => [keyOf(item), at]))
    indexes.set(items, index)
    position = index.get(key)
  }
  return position
}

/** Inserts at the end or replaces in place; returns whether the key existed. */
function upsert<T>(items: T[], item: T, key: string, keyOf: (item: T) => string): boolean {
  const position = positionOf(items, key, keyOf)
  if (position !== undefined) {
    items[position] = item
    return true
  }
  indexes.get(items)!.set(key, items.length)
  items.push(item)
  return false
}
