import type { H3Event } from 'h3'
import type { Role } from '../sessions/access'
import { SessionError } from '../sessions/errors'
import { hashSecret } from '../sessions/secrets'

interface Bucket {
  tokens: number
  updatedAt: number
}

interface Policy {
  perSecond: number
  burst: number
}

const buckets = new Map<string, Bucket>()
const IDLE_BUCKET_MS = 60_000
let lastSweep = 0

/**
 * Token buckets per client. Agents are keyed by their token (one agent = one client wherever it
 * runs), everyone else by client address (client-address.ts); NUXT_RATE_LIMIT_* set the rates.
 * Over the limit: 429 + Retry-After.
 */
export function limitSessionWrites(event: H3Event, role: Role): void {
  const config = useRuntimeConfig().rateLimit
  const credential = bearerToken(event.node.req)
  if ((role === 'agent' || role === 'server') && credential)
    take(`agent:${hashSecret(credential)}`, { perSecond: Number(config.agentPerSecond), burst: Number(config.agentBurst) })
  else
    take(`ip:${clientAddress(event.node.req)}`, { perSecond: Number(config.perSecond), burst: Number(config.burst) })
}

/** Creating sessions is limited per client address, per minute. */
export function limitSessionCreation(event: H3Event): void {
  const perMinute = Number(useRuntimeConfig().rateLimit.createPerMinute)
  take(`create:${clientAddress(event.node.req)}`, { perSecond: perMinute / 60, burst: perMinute })
}

function take(key: string, policy: Policy, now = Date.now()): void {
  sweep(now)
  const bucket = buckets.get(key) ?? { tokens: policy.burst, updatedAt: now }
  bucket.tokens = Math.min(policy.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * policy.perSecond)
  bucket.updatedAt = now
  buckets.set(key, bucket)
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1
    return
  }
  const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / policy.perSecond))
  throw new SessionError('rate_limited', `Too many requests: retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
}

function sweep(now: number): void {
  if (now - lastSweep < IDLE_BUCKET_MS) return
  lastSweep = now
  for (const [key, bucket] of buckets) if (now - bucket.updatedAt > IDLE_BUCKET_MS) buckets.delete(key)
}
