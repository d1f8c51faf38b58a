/** Reconnect schedule: 1 s, 2 s, 4 s … capped at 30 s, retried forever. */
export interface BackoffSchedule {
  /** Delay before the first retry, in ms. Default 1000. */
  initialDelay: number
  /** Largest delay, in ms. Default 30000. */
  maxDelay: number
  /** Growth factor per failed attempt. Default 2. */
  multiplier: number
}

export const DEFAULT_BACKOFF: Readonly<BackoffSchedule> = Object.freeze({ initialDelay: 1000, maxDelay: 30_000, multiplier: 2 })

/**
 * Delay before retry number `attempt` (1-based). Deliberately without jitter: the UI shows a
 * countdown to `nextRetryAt`, which must be the moment the retry really happens.
 */
export function backoffDelay(attempt: number, schedule: BackoffSchedule = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, attempt - 1)
  return Math.min(schedule.maxDelay, schedule.initialDelay * schedule.multiplier ** exponent)
}
