import type { IncomingMessage } from 'node:http'
import ipaddr from 'ipaddr.js'

/**
 * The client a request comes from, as every per-client limit counts it (session write rates,
 * session creation, live reads, demo runs).
 *
 * Behind NUXT_DURABLE_SESSIONS_TRUST_PROXY = n proxies of our own, each proxy appends the address it was reached
 * from to X-Forwarded-For, so the client is the n-th address counted from the right (the
 * connection's own address being the first): the rightmost one no proxy of ours vouches for.
 * Everything left of it was written by the client and is ignored. With 0 the header is ignored.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) count as the IPv4 address; an IPv6 client
 * counts as its /64, the block one subscriber usually holds, so rotating addresses within it
 * buys nothing.
 */
export function clientAddress(req: IncomingMessage): string {
  const forwardedFor = req.headers['x-forwarded-for']
  const chain = [req.socket.remoteAddress ?? '']
  const hops = trustedProxyHops(useRuntimeConfig().durableSessions.trustProxy)
  if (hops > 0 && forwardedFor) chain.push(...(Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').reverse())
  return clientKey(chain[Math.min(hops, chain.length - 1)]!.trim())
}

/** An address as limits count it: IPv4 as is, IPv6 as its /64; anything else verbatim. */
export function clientKey(address: string): string {
  if (!ipaddr.isValid(address)) return address || 'unknown'
  const parsed = ipaddr.process(address)
  if (parsed.kind() === 'ipv4') return parsed.toString()
  const parts = (parsed as ipaddr.IPv6).parts
  return `${new ipaddr.IPv6([...parts.slice(0, 4), 0, 0, 0, 0]).toRFC5952String()}/64`
}

let warned = false

/**
 * NUXT_DURABLE_SESSIONS_TRUST_PROXY: the number of proxies of ours in front of the server. `true` and `false`
 * still mean 1 and 0, as they did when it was a switch; anything else is refused (as 0).
 */
export function trustedProxyHops(value: unknown): number {
  if (value === true || value === 'true') return 1
  if (value === false || value === 'false' || value === '' || value === undefined) return 0
  const hops = Number(value)
  if (Number.isSafeInteger(hops) && hops >= 0) return hops
  if (!warned) console.warn(`[config] NUXT_DURABLE_SESSIONS_TRUST_PROXY must be a number of proxy hops (got ${JSON.stringify(value)}): X-Forwarded-For is ignored`)
  warned = true
  return 0
}
