import type { StoredStream } from './storage'

/**
 * TTL and expiry (PROTOCOL.md §4.1): a stream with Stream-Expires-At ends at that instant; one
 * with Stream-TTL ends that many seconds after it was last read or written (sliding). Expired
 * streams vanish for readers at once and are swept every minute.
 */
export function isExpired(stream: Pick<StoredStream, 'expiresAt' | 'ttlSeconds' | 'lastAccessAt'>, now: number): boolean {
  if (stream.expiresAt !== null && now >= stream.expiresAt) return true
  return stream.ttlSeconds !== null && now >= stream.lastAccessAt + stream.ttlSeconds * 1000
}

/** Whether an access restarts the stream's clock (only a sliding TTL does). */
export function slidesOnAccess(stream: Pick<StoredStream, 'ttlSeconds'>): boolean {
  return stream.ttlSeconds !== null
}
