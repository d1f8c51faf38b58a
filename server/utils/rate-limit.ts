import type { H3Event } from 'h3'
import type { Role } from '../sessions/access'
import { SessionError } from '../sessions/errors'
import { hashSecret } from '../sessions/secrets'
import type { BucketPolicy } from '../sessions/token-buckets'

/**
 * Token buckets per client, counting events: a batch of N events costs N, and so does its replay
 * under the same Idempotency-Key. Agents are keyed by their token (one agent = one client
 * wherever it runs), everyone else by client address (client-address.ts); NUXT_DURABLE_SESSIONS_RATE_LIMIT_* set
 * the rates. Over the limit: 429 + Retry-After; a batch larger than the whole burst could never
 * pass, so it is a 413 instead.
 */
export async function limitSessionWrites(event: H3Event, role: Role, events = 1): Promise<void> {
  const config = useRuntimeConfig().durableSessions.rateLimit
  const credential = bearerToken(event.node.req)
  if ((role === 'agent' || role === 'server') && credential)
    await take(`agent:${hashSecret(credential)}`, { perSecond: Number(config.agentPerSecond), burst: Number(config.agentBurst) }, events)
  else
    await take(`ip:${clientAddress(event.node.req)}`, { perSecond: Number(config.perSecond), burst: Number(config.burst) }, events)
}

/** Creating sessions is limited per client address, per minute. */
export async function limitSessionCreation(event: H3Event): Promise<void> {
  const perMinute = Number(useRuntimeConfig().durableSessions.rateLimit.createPerMinute)
  await take(`create:${clientAddress(event.node.req)}`, { perSecond: perMinute / 60, burst: perMinute })
}

async function take(key: string, policy: BucketPolicy, cost = 1): Promise<void> {
  if (cost > policy.burst)
    throw new SessionError('too_large', `${cost} events in one write is more than this client may send at once (${policy.burst}): send smaller batches`)
  const wait = await useBackend().limits.take(key, policy, cost, Date.now())
  if (wait === 0) return
  const retryAfterSeconds = Math.max(1, Math.ceil(wait))
  throw new SessionError('rate_limited', `Too many requests: retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
}
