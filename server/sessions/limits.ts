import { TokenBuckets } from './token-buckets'
import type { BucketPolicy } from './token-buckets'

/**
 * The counters behind rate limits and presence limits. With SQLite one process serves
 * everything and they live in its memory; with PostgreSQL every instance shares them through
 * the database, so a client spreading its requests over instances gets no more than one
 * instance would give it.
 */
export interface LimitCounters {
  /**
   * Takes `cost` tokens from bucket `key` if it holds them and answers 0; otherwise takes nothing
   * and answers the seconds until it will (`cost` must not exceed the burst).
   */
  take(key: string, policy: BucketPolicy, cost: number, now: number): Promise<number>
  /**
   * Counts `member` among the distinct members `group` saw within the last `windowMs`, unless it
   * is new and `max` are counted already: answers 0, or the ms until the oldest leaves the window.
   */
  admit(group: string, member: string, max: number, windowMs: number, now: number): Promise<number>
}

const SWEEP_INTERVAL_MS = 60_000

/** LimitCounters in this process's memory (SQLite: the process is the whole server). */
export class MemoryLimitCounters implements LimitCounters {
  private readonly buckets = new TokenBuckets()
  /** Per group: member → when last counted. */
  private readonly groups = new Map<string, Map<string, number>>()
  private lastSweep = 0

  async take(key: string, policy: BucketPolicy, cost: number, now: number): Promise<number> {
    return this.buckets.take(key, policy, cost, now)
  }

  async admit(group: string, member: string, max: number, windowMs: number, now: number): Promise<number> {
    this.sweep(now, windowMs)
    const members = this.groups.get(group) ?? new Map<string, number>()
    for (const [name, at] of members) if (now - at >= windowMs) members.delete(name)
    if (!members.has(member) && members.size >= max) return Math.min(...members.values()) + windowMs - now
    members.set(member, now)
    this.groups.set(group, members)
    return 0
  }

  /** Groups with nobody counted within the window are forgotten. */
  private sweep(now: number, windowMs: number): void {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return
    this.lastSweep = now
    for (const [group, members] of this.groups) {
      if ([...members.values()].every(at => now - at >= windowMs)) this.groups.delete(group)
    }
  }
}
