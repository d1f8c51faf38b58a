import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { nodeRequest } from '../support/http'
import type { NodeResponse } from '../support/http'
import type { TestServer } from '../support/server'
import { createSession, joinPresence, postPresence, startSessionServer, streamMessages, withPresenceKey } from '../support/sessions'

/**
 * Presence and events are no firehose: rate limits count events (a batch of N costs N, and so
 * does its Idempotency-Key replay), cursor updates over 20/s per user are dropped, and a
 * session admits a bounded number of distinct presence users per hour.
 */

const BURST = 10

let limited: TestServer
let unlimited: TestServer

beforeAll(async () => {
  ;[limited, unlimited] = await Promise.all([
    startSessionServer({
      env: {
        // Slow refills, so a slow machine cannot earn a client a token mid-test.
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_PER_SECOND: '0.1',
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_BURST: String(BURST),
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_AGENT_PER_SECOND: '0.1',
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_AGENT_BURST: String(BURST),
        NUXT_DURABLE_SESSIONS_PRESENCE_MAX_USERS_PER_HOUR: '3',
      },
    }),
    startSessionServer(),
  ])
})
afterAll(() => Promise.all([limited?.stop(), unlimited?.stop()]))

/** A request from its own source address: each test is a client of its own for the per-IP buckets. */
async function from(address: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<NodeResponse & { json: any }> {
  const response = await nodeRequest(limited.url, path, {
    method: 'POST',
    localAddress: address,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { ...response, json: JSON.parse(response.body.toString() || 'null') }
}

const input = (n: number) => ({ channel: 'terminal', data: { type: 'input', source: 'user', data: `ls ${n}` } })
const collaborator = (session: CreatedSession) => ({ 'x-collaborator-key': session.collaboratorKey })
const agent = (session: CreatedSession) => ({ authorization: `Bearer ${session.agentToken}` })

describe('rate limits count events, not requests', () => {
  it('a batch of N events uses N of the client\'s budget', async () => {
    const session = await createSession(limited)
    const address = '127.0.0.41'
    const batch = await from(address, `/api/sessions/${session.id}/events`, Array.from({ length: BURST }, (_, n) => input(n)), collaborator(session))
    expect(batch.status).toBe(200)
    const next = await from(address, `/api/sessions/${session.id}/events`, input(99), collaborator(session))
    expect(next.status).toBe(429)
    expect(Number(next.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(await streamMessages(limited, `sessions/${session.id}`)).toHaveLength(BURST)
  })

  it('a batch larger than the whole burst is 413, saying so, and costs nothing', async () => {
    const session = await createSession(limited)
    const address = '127.0.0.42'
    const tooMany = await from(address, `/api/sessions/${session.id}/events`, Array.from({ length: BURST + 1 }, (_, n) => input(n)), collaborator(session))
    expect(tooMany.status).toBe(413)
    expect(tooMany.json.message).toMatch(/smaller batches/)
    expect((await from(address, `/api/sessions/${session.id}/events`, Array.from({ length: BURST }, (_, n) => input(n)), collaborator(session))).status).toBe(200)
  })

  it('replays under an Idempotency-Key count against the same budget', async () => {
    const session = await createSession(limited)
    const body = Array.from({ length: 6 }, (_, n) => ({ channel: 'chunks', data: { agentId: session.agentId, text: `t${n}` } }))
    const headers = { ...agent(session), 'idempotency-key': 'replayed' }
    expect((await from('127.0.0.43', `/api/sessions/${session.id}/events`, body, headers)).status).toBe(200)
    const replay = await from('127.0.0.43', `/api/sessions/${session.id}/events`, body, headers)
    expect(replay.status).toBe(429)
    expect(await streamMessages(limited, `sessions/${session.id}`)).toHaveLength(6)
  })
})

describe('NUXT_DURABLE_SESSIONS_PRESENCE_MAX_USERS_PER_HOUR', () => {
  it('a session admits that many distinct users within an hour; the next is 429 with a message, those counted may come back', async () => {
    const session = await createSession(limited)
    const path = `/api/sessions/${session.id}/presence`
    const keys: string[] = []
    for (const [n, user] of ['u1', 'u2', 'u3'].entries()) {
      const joined = await from(`127.0.0.${50 + n}`, path, { userId: user, action: 'join' })
      expect(joined.status).toBe(200)
      keys.push(joined.json.presenceKey)
    }
    const fourth = await from('127.0.0.53', path, { userId: 'u4', action: 'join' })
    expect(fourth.status).toBe(429)
    expect(fourth.json.message).toMatch(/3 presence users within the last hour/)
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(60)
    // u1 leaves and joins again: still one of the three.
    expect((await from('127.0.0.50', path, { userId: 'u1', action: 'leave' }, withPresenceKey(keys[0]!))).status).toBe(200)
    expect((await from('127.0.0.50', path, { userId: 'u1', action: 'join' })).status).toBe(200)
    expect((await streamMessages(limited, `sessions/${session.id}/presence`)).map(message => message.key)).not.toContain('u4')
  })
})

describe('cursor updates', () => {
  it('above 20/s per user are dropped: 200 with dropped: true, and nothing appended for them', async () => {
    const session = await createSession(unlimited)
    const { presenceKey } = await joinPresence(unlimited, session, 'ada')
    const updates = 200
    const started = Date.now()
    const answers = await Promise.all(Array.from({ length: updates }, (_, n) =>
      postPresence(unlimited, session, { userId: 'ada', action: 'update', cursor: { x: n, y: n } }, withPresenceKey(presenceKey))))
    const seconds = (Date.now() - started) / 1000
    expect(answers.map(answer => answer.status)).toEqual(Array.from({ length: updates }, () => 200))
    const accepted = answers.filter(answer => answer.body.dropped !== true).length
    const dropped = answers.filter(answer => answer.body.dropped === true)
    // At most the 2 s allowance plus 20 per second that passed, whatever this machine's speed.
    expect(accepted).toBeLessThanOrEqual(40 + Math.ceil(20 * seconds))
    expect(accepted + dropped.length).toBe(updates)
    for (const answer of dropped) expect(answer.body).toEqual({ ok: true, offset: expect.any(String), dropped: true })
    expect(await streamMessages(unlimited, `sessions/${session.id}/presence`)).toHaveLength(1 + accepted)
    // Another user is not slowed down by Ada.
    const bob = await joinPresence(unlimited, session, 'bob')
    const moved = await postPresence(unlimited, session, { userId: 'bob', action: 'update', cursor: { x: 1, y: 1 } }, withPresenceKey(bob.presenceKey))
    expect(moved.body.dropped).toBeUndefined()
  })
})
