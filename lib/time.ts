/** Time arithmetic of the viewer's countdowns. */

/** Whole seconds until `target` (never negative), for "reconnecting in 3 s". */
export function secondsUntil(target: number, now: number): number {
  return Math.max(0, Math.ceil((target - now) / 1000))
}

/** Accepts epoch milliseconds, an ISO string or a Date; null when absent or unparsable. */
export function toEpochMs(value: number | string | Date | null | undefined): number | null {
  if (value === null || value === undefined) return null
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : value.getTime()
  return Number.isFinite(ms) ? ms : null
}
