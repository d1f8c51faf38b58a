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
 * Folds one change message into the state, in place, and returns it: O(1) per event, so a
 * 10,000-event session materialises in milliseconds on the server and in the browser alike.
 * Control messages, foreign types and invalid values are ignored.
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
      const chunk = state.chunks.find(entry => entry.id === key)
      if (chunk === undefined || splice(state.chunks) === undefined) break
      const id = messageId(chunk.agentId, chunk.turn ?? 0)
      const rest = state.chunks.filter(other => messageId(other.agentId, other.turn ?? 0) === id)
      const position = positionOf(state.messages, id, byId)
      if (position === undefined) break
      if (rest.length === 0) {
        state.messages.splice(position, 1)
        leaveConversation(state, 'message', id)
      }
      else state.messages[position]!.text = rest.map(other => other.text).join('')
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

function applyChunk(state: SessionState, chunk: Chunk): void {
  const replaced = upsert(state.chunks, chunk, chunk.id, byId)
  const id = messageId(chunk.agentId, chunk.turn ?? 0)
  const position = positionOf(state.messages, id, byId)
  if (position === undefined) {
    upsert(state.messages, { id, agentId: chunk.agentId, turn: chunk.turn ?? 0, text: chunk.text, startedAt: chunk.timestamp, updatedAt: chunk.timestamp }, id, byId)
    state.conversation.push({ kind: 'message', id })
    return
  }
  const message = state.messages[position]!
  message.updatedAt = chunk.timestamp
  // A replaced chunk may sit anywhere in the turn: rebuild that one message's text.
  message.text = replaced
    ? state.chunks.filter(other => messageId(other.agentId, other.turn ?? 0) === id).map(other => other.text).join('')
    : message.text + chunk.text
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
