import type { Sql } from 'postgres'
import type { LimitCounters } from './limits'
import type { BucketPolicy } from './token-buckets'

/** Advisory-lock key for one group of limit_members being counted. */
const LIMIT_GROUPS = 719_043_104
/** Buckets idle this long are full again and are forgotten (as in memory). */
const BUCKET_IDLE_MS = 60_000
/** Members are counted within windows of at most this long (presence: an hour). */
const LONGEST_WINDOW_MS = 60 * 60 * 1000
const PRUNE_INTERVAL_MS = 60_000

/**
 * LimitCounters in the database, shared by every instance: a token bucket is one row updated
 * by a single atomic upsert (refill by elapsed time, take if enough), and a group's members are
 * counted under an advisory lock on that group.
 */
export class PostgresLimitCounters implements LimitCounters {
  private lastPrune = 0

  constructor(private readonly sql: Sql) {}

  async take(key: string, policy: BucketPolicy, cost: number, now: number): Promise<number> {
    this.prune(now)
    const available = this.sql`least(${policy.burst}::float8, rate_buckets.tokens + greatest(0, ${now} - rate_buckets.updated_at) * ${policy.perSecond}::float8 / 1000)`
    const [bucket] = await this.sql<Array<{ tokens: number, granted: boolean }>>`
      insert into rate_buckets (key, tokens, updated_at, granted) values (${key}, ${policy.burst - cost}, ${now}, true)
      on conflict (key) do update set
        tokens = ${available} - case when ${available} >= ${cost} then ${cost} else 0 end,
        granted = ${available} >= ${cost},
        updated_at = greatest(rate_buckets.updated_at, ${now})
      returning tokens, granted`
    return bucket!.granted ? 0 : (cost - bucket!.tokens) / policy.perSecond
  }

  admit(group: string, member: string, max: number, windowMs: number, now: number): Promise<number> {
    return this.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LIMIT_GROUPS}, hashtext(${group}))`
      await tx`delete from limit_members where "group" = ${group} and counted_at <= ${now - windowMs}`
      const [counted] = await tx<Array<{ members: number, present: boolean | null, oldest: number | null }>>`
        select count(*)::int as members, bool_or(member = ${member}) as present, min(counted_at) as oldest
        from limit_members where "group" = ${group}`
      if (!counted!.present && counted!.members >= max) return counted!.oldest! + windowMs - now
      await tx`insert into limit_members ("group", member, counted_at) values (${group}, ${member}, ${now})
        on conflict ("group", member) do update set counted_at = excluded.counted_at`
      return 0
    })
  }

  /** Once a minute per instance: idle buckets and members out of every window go. */
  private prune(now: number): void {
    if (now - this.lastPrune < PRUNE_INTERVAL_MS) return
    this.lastPrune = now
    void Promise.all([
      this.sql`delete from rate_buckets where updated_at < ${now - BUCKET_IDLE_MS}`,
      this.sql`delete from limit_members where counted_at < ${now - LONGEST_WINDOW_MS}`,
    ]).catch(error => console.error('[sessions] pruning limit counters failed', error))
  }
}
