import type { PresenceBody } from './api'
import type { Presence } from './channels'

/**
 * The presence record a presence write leaves behind: fields the write does not send are kept
 * from the current record, `lastSeen` is now, and `joinedAt` survives heartbeats. The server
 * stores it; the browser shows it at once (optimistically) — both compute it here.
 */
export function nextPresence(sessionId: string, body: PresenceBody, current: Presence | undefined, now: string): Presence {
  const record: Presence = {
    userId: body.userId,
    sessionId,
    displayName: body.displayName ?? current?.displayName,
    avatarUrl: body.avatarUrl ?? current?.avatarUrl,
    cursor: body.cursor ?? current?.cursor,
    lastSeen: now,
    joinedAt: current?.joinedAt ?? now,
  }
  // Absent rather than undefined: the record is compared, stored and sent as JSON.
  return Object.fromEntries(Object.entries(record).filter(([, field]) => field !== undefined)) as Presence
}
