import { isChangeEvent } from '@durable-streams/state'
import type { ChangeEvent } from '@durable-streams/state'
import { CHANNEL_SCHEMAS } from './channels'
import type { Channel, ChannelData, SessionEvent } from './channels'
import { CHANNEL_BY_TYPE, sessionStateSchema } from './state-schema'

/**
 * Session events travel as State Protocol change messages:
 * `{ type, key, value, headers: { operation, timestamp } }`.
 */
export type SessionChange = ChangeEvent<ChannelData[Channel]>
export type ChangeOperation = 'insert' | 'update' | 'delete'

/**
 * The class of writer a record belongs to: whoever created it. Agents (and the server) are the
 * default and leave no mark, which keeps their high-rate changes as small as before; changes to
 * a collaborator's record carry `headers.owner: 'collaborator'`. Ownership is thus part of the
 * stream itself: it survives restarts and any reader that replays the stream can rebuild it.
 * State Protocol consumers (MaterializedState, StreamDB) ignore headers they do not know.
 */
export type RecordOwner = 'agent' | 'collaborator'

/** The owner a change message declares. */
export function ownerOf(message: { headers?: Record<string, unknown> }): RecordOwner {
  return message.headers?.owner === 'collaborator' ? 'collaborator' : 'agent'
}

/** The change-message `type` of a channel's records. */
export function changeTypeOf(channel: Channel): string {
  return sessionStateSchema[channel].type
}

export function keyOf(event: SessionEvent): string {
  const { primaryKey } = sessionStateSchema[event.channel]
  return String((event.data as unknown as Record<string, unknown>)[primaryKey])
}

export function toChange(event: SessionEvent, operation: ChangeOperation, timestamp: string, owner: RecordOwner = 'agent'): SessionChange {
  const collection = sessionStateSchema[event.channel] as unknown as {
    insert: (params: { value: unknown, headers: Record<string, string> }) => SessionChange
    update: (params: { value: unknown, headers: Record<string, string> }) => SessionChange
    delete: (params: { key: string, oldValue: unknown, headers: Record<string, string> }) => SessionChange
  }
  const headers: Record<string, string> = owner === 'agent' ? { timestamp } : { timestamp, owner }
  if (operation === 'delete') return collection.delete({ key: keyOf(event), oldValue: event.data, headers })
  return collection[operation]({ value: event.data, headers })
}

/** The session event a change message carries, or undefined for control messages and foreign types. */
export function fromChange(message: unknown): { event: SessionEvent, operation: ChangeOperation } | undefined {
  if (typeof message !== 'object' || message === null || !('headers' in message)) return undefined
  const change = message as ChangeEvent
  if (typeof change.headers !== 'object' || change.headers === null || !isChangeEvent(change)) return undefined
  const channel = CHANNEL_BY_TYPE[change.type]
  if (!channel) return undefined
  const operation = change.headers.operation === 'upsert' ? 'update' : change.headers.operation
  const parsed = CHANNEL_SCHEMAS[channel].safeParse(operation === 'delete' ? change.old_value : change.value)
  if (!parsed.success) return undefined
  return { event: { channel, data: parsed.data } as SessionEvent, operation }
}

/**
 * The entity a `delete` change message removes. A delete may carry only its key (the State
 * Protocol makes `old_value` optional), so it is decoded apart from inserts and updates.
 */
export function removalOf(message: unknown): { channel: Channel, key: string } | undefined {
  if (typeof message !== 'object' || message === null) return undefined
  const change = message as Partial<ChangeEvent>
  if (change.headers?.operation !== 'delete' || typeof change.key !== 'string' || typeof change.type !== 'string') return undefined
  const channel = CHANNEL_BY_TYPE[change.type]
  return channel ? { channel, key: change.key } : undefined
}
