import { SessionError } from './errors'
import type { LimitCounters } from './limits'

const HOUR_MS = 60 * 60 * 1000
/** Cursor moves and heartbeats per user: 20/s, with 2 s of slack for network jitter. */
const UPDATES = { perSecond: 20, burst: 40 }

/**
 * What keeps presence from being a firehose: each user's updates above 20/s are dropped, and a
 * session admits at most `maxUsersPerHour` distinct users joining within any hour. Counted in
 * LimitCounters (this process's memory, or the database every instance shares).
 */
export class PresenceLimits {
  constructor(private readonly counters: LimitCounters, private readonly maxUsersPerHour: number) {}

  /** Whether this update may be written; false means drop it (the next one supersedes it). */
  async allowUpdate(sessionId: string, userId: string, now: number): Promise<boolean> {
    return await this.counters.take(`presence:${JSON.stringify([sessionId, userId])}`, UPDATES, 1, now) === 0
  }

  /** Counts a join; 429 when it would be one user too many for this session's hour. */
  async admit(sessionId: string, userId: string, now: number): Promise<void> {
    const waitMs = await this.counters.admit(`presence-users:${sessionId}`, userId, this.maxUsersPerHour, HOUR_MS, now)
    if (waitMs === 0) return
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000))
    throw new SessionError('rate_limited', `This session has had ${this.maxUsersPerHour} presence users within the last hour, its limit: retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
  }
}
