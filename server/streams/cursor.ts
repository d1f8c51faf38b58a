/**
 * CDN-collapsing cursors (PROTOCOL.md §10.1): the number of 20-second intervals since
 * 2024-10-09T00:00:00Z, never going backwards for a client that echoes a cursor from the future.
 */
const EPOCH_MS = Date.UTC(2024, 9, 9)
const INTERVAL_MS = 20_000
const MAX_JITTER_INTERVALS = 3600 / 20

function currentInterval(now: number): number {
  return Math.floor((now - EPOCH_MS) / INTERVAL_MS)
}

/** The cursor for a live response to a request that echoed `clientCursor`. */
export function nextCursor(clientCursor: string | undefined, now = Date.now()): string {
  const current = currentInterval(now)
  const echoed = clientCursor !== undefined && /^\d{1,15}$/.test(clientCursor) ? Number(clientCursor) : undefined
  if (echoed === undefined || echoed < current) return String(current)
  return String(echoed + 1 + Math.floor(Math.random() * MAX_JITTER_INTERVALS))
}

/** A later cursor on the same connection: the current interval, or the previous cursor if ahead. */
export function advanceCursor(previous: string, now = Date.now()): string {
  return String(Math.max(currentInterval(now), Number(previous)))
}
