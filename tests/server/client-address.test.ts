import { describe, expect, it } from 'vitest'
import { clientKey, trustedProxyHops } from '../../server/utils/client-address'

/**
 * The pieces of the client address that need no request: how NUXT_DURABLE_SESSIONS_TRUST_PROXY reads, and how an
 * address becomes the key limits count by. Requests through proxies are in
 * tests/reliability/connection-limits.test.ts.
 */

describe('NUXT_DURABLE_SESSIONS_TRUST_PROXY', () => {
  it('is a number of proxy hops; true and false still mean 1 and 0', () => {
    const cases: Array<[unknown, number]> = [
      [true, 1], ['true', 1], [false, 0], ['false', 0], ['', 0], [undefined, 0],
      [0, 0], [1, 1], [2, 2], ['3', 3],
    ]
    for (const [value, hops] of cases) expect(trustedProxyHops(value), JSON.stringify(value)).toBe(hops)
  })

  it('refuses anything else, ignoring X-Forwarded-For', () => {
    for (const value of [-1, 1.5, 'two', '1e3x', {}]) expect(trustedProxyHops(value), JSON.stringify(value)).toBe(0)
  })
})

describe('the key an address counts by', () => {
  it('is an IPv4 address as is, also when written IPv4-mapped', () => {
    expect(clientKey('203.0.113.5')).toBe('203.0.113.5')
    expect(clientKey('::ffff:203.0.113.5')).toBe('203.0.113.5')
    expect(clientKey('::FFFF:cb00:7105')).toBe('203.0.113.5')
  })

  it('is the /64 of an IPv6 address, however it is written', () => {
    expect(clientKey('2001:db8:1:2::a')).toBe('2001:db8:1:2::/64')
    expect(clientKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64')
    expect(clientKey('2001:db8:1:3::a')).toBe('2001:db8:1:3::/64')
    expect(clientKey('::1')).toBe('::/64')
  })

  it('is anything else verbatim (what a proxy of ours wrote), or "unknown"', () => {
    expect(clientKey('not an address')).toBe('not an address')
    expect(clientKey('')).toBe('unknown')
  })
})
