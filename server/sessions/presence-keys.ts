import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Presence } from '#layers/durable-sessions/shared/sessions/channels'

/**
 * Presence keys: what a `join` hands out and every later write of that presence user must
 * present. A key is `<base64url userId>.<base64url HMAC>`, the HMAC of (session, user, joinedAt)
 * under a server secret — nothing is stored per user. Binding it to `joinedAt` ties it to one
 * presence record: once that user leaves (or their record is trimmed), the key is dead, so a
 * key handed to whoever claims the id next never works for an earlier or later holder.
 */
export class PresenceKeys {
  constructor(private readonly secret: Buffer) {}

  issue(sessionId: string, record: Pick<Presence, 'userId' | 'joinedAt'>): string {
    return `${Buffer.from(record.userId).toString('base64url')}.${this.mac(sessionId, record).toString('base64url')}`
  }

  /** The user id a well-formed key names (to find their record); says nothing about validity. */
  userOf(key: string): string | undefined {
    const dot = key.indexOf('.')
    if (dot <= 0 || key.length > 2048) return undefined
    const userId = Buffer.from(key.slice(0, dot), 'base64url').toString('utf8')
    return userId.length > 0 ? userId : undefined
  }

  /** Whether the key was issued for this session and this very record (constant time). */
  matches(key: string, sessionId: string, record: Pick<Presence, 'userId' | 'joinedAt'>): boolean {
    if (this.userOf(key) !== record.userId) return false
    const given = Buffer.from(key.slice(key.indexOf('.') + 1), 'base64url')
    const expected = this.mac(sessionId, record)
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  private mac(sessionId: string, record: Pick<Presence, 'userId' | 'joinedAt'>): Buffer {
    return createHmac('sha256', this.secret).update(JSON.stringify([sessionId, record.userId, record.joinedAt])).digest()
  }
}
