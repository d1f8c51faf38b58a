import { beforeAll, describe, expect, it } from 'vitest'
import { useCluster } from '../support/cluster'
import { nodeRequest } from '../support/http'
import type { TestServer } from '../support/server'
import { SESSION_TEST_ENV, createSession, streamMessages } from '../support/sessions'

/**
 * Limits are counted in the database that every instance shares: a client spreading its
 * requests over two instances gets what one instance would give it, no more.
 */

const BURST = 10
const cluster = useCluster(2, {
  env: {
    ...SESSION_TEST_ENV,
    // Slow refills, so a slow machine cannot earn a client a token mid-test.
    NUXT_DURABLE_SESSIONS_RATE_LIMIT_PER_SECOND: '0.1',
    NUXT_DURABLE_SESSIONS_RATE_LIMIT_BURST: String(BURST),
    NUXT_DURABLE_SESSIONS_PRESENCE_MAX_USERS_PER_HOUR: '3',
  },
})
let a: TestServer
let b: TestServer
beforeAll(() => {
  ;[a, b] = cluster.servers as [TestServer, TestServer]
})

async function from(server: TestServer, address: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return nodeRequest(server.url, path, { method: 'POST', localAddress: address, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

const input = (n: number) => ({ channel: 'terminal', data: { type: 'input', source: 'user', data: `ls ${n}` } })

describe('shared limits', () => {
  it('one client\'s event budget is spent across both instances', async () => {
    const session = await createSession(a)
    const events = `/api/sessions/${session.id}/events`
    const key = { 'x-collaborator-key': session.collaboratorKey }
    expect((await from(a, '127.0.0.61', events, Array.from({ length: 6 }, (_, n) => input(n)), key)).status).toBe(200)
    expect((await from(b, '127.0.0.61', events, Array.from({ length: 4 }, (_, n) => input(6 + n)), key)).status).toBe(200)
    for (const server of [a, b]) expect((await from(server, '127.0.0.61', events, input(99), key)).status, server.url).toBe(429)
    expect(await streamMessages(b, `sessions/${session.id}`)).toHaveLength(BURST)
  })

  it('a session\'s presence users per hour are counted across both instances', async () => {
    const session = await createSession(b)
    const presence = `/api/sessions/${session.id}/presence`
    for (const [n, server] of [a, b, a].entries())
      expect((await from(server, `127.0.0.${70 + n}`, presence, { userId: `u${n}`, action: 'join' })).status).toBe(200)
    const fourth = await from(b, '127.0.0.73', presence, { userId: 'u3', action: 'join' })
    expect(fourth.status).toBe(429)
    expect(fourth.body.toString()).toMatch(/3 presence users within the last hour/)
  })
})
