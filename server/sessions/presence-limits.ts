import { SessionError } from './errors'
import { TokenBuckets } from './token-buckets'

const HOUR_MS = 60 * 60 * 1000
/** Cursor moves and heartbeats per user: 20/s, with 2 s of slack for network jitter. */
const UPDATES = { perSecond: 20, burst: 40 }

/**
 * What keeps presence from being a firehose, in memory (per process, like the rate limits):
 * each user's updates above 20/s are dropped, and a session admits at most `maxUsersPerHour`
 * distinct users joining within any hour.
 */
export class PresenceLimits {
  private readonly updates = new TokenBuckets()
  /** Per session: user id → when they last joined. */
  private readonly joins = new Map<string, Map<string, number>>()
  private lastSweep = 0

  constructor(private readonly maxUsersPerHour: number) {}

  /** Whether this update may be written; false means drop it (the next one supersedes it). */
  allowUpdate(sessionId: string, userId: string, now: number): boolean {
    return this.updates.take(JSON.stringify([sessionId, userId]), UPDATES, 1, now) === 0
  }

  /** Counts a join; 429 when it would be one user too many for this session's hour. */
  admit(sessionId: string, userId: string, now: number): void {
    this.sweep(now)
    const joined = this.joins.get(sessionId) ?? new Map<string, number>()
    for (const [user, at] of joined) if (now - at >= HOUR_MS) joined.delete(user)
    if (!joined.has(userId) && joined.size >= this.maxUsersPerHour) {
      const oldest = Math.min(...joined.values())
      const retryAfterSeconds = Math.max(1, Math.ceil((oldest + HOUR_MS - now) / 1000))
      throw new SessionError('rate_limited', `This session has had ${this.maxUsersPerHour} presence users within the last hour, its limit: retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
    }
    joined.set(userId, now)
    this.joins.set(sessionId, joined)
  }

  /** Sessions nobody joined for an hour are forgotten. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return
    this.lastSweep = now
    for (const [sessionId, joined] of this.joins) {
      if ([...joined.values()].every(at => now - at >= HOUR_MS)) this.joins.delete(sessionId)
    }
  }
}
