import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** 128 random bits, URL-safe: a session id is also its read capability. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url')
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url')
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(candidate: string | undefined, storedHash: string): boolean {
  if (!candidate) return false
  return timingSafeEqual(Buffer.from(hashSecret(candidate), 'hex'), Buffer.from(storedHash, 'hex'))
}

/**
 * A session's default agent id: random, so it says nothing about the session id (the agent
 * stream is readable by whoever knows the agent id, and its events name their session).
 */
export function newAgentId(): string {
  return `agent-${randomBytes(12).toString('base64url')}`
}
