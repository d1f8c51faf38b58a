export interface BucketPolicy {
  /** Tokens added per second. */
  perSecond: number
  /** Most tokens a bucket holds: the largest burst. */
  burst: number
}

interface Bucket {
  tokens: number
  updatedAt: number
}

/**
 * Token buckets by key, in memory (limits are per process). Buckets idle for a minute are full
 * again, so they are forgotten rather than kept.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()
  private lastSweep = 0

  constructor(private readonly idleMs = 60_000) {}

  /**
   * Takes `cost` tokens if the bucket has them and answers 0; otherwise takes nothing and
   * answers the seconds until it will have them (`cost` must not exceed the burst).
   */
  take(key: string, policy: BucketPolicy, cost = 1, now = Date.now()): number {
    this.sweep(now)
    const bucket = this.buckets.get(key) ?? { tokens: policy.burst, updatedAt: now }
    bucket.tokens = Math.min(policy.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * policy.perSecond)
    bucket.updatedAt = now
    this.buckets.set(key, bucket)
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost
      return 0
    }
    return (cost - bucket.tokens) / policy.perSecond
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.idleMs) return
    this.lastSweep = now
    for (const [key, bucket] of this.buckets) if (now - bucket.updatedAt > this.idleMs) this.buckets.delete(key)
  }
}
