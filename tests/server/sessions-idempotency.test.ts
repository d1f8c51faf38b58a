import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { api, as, createSession, startSessionServer, streamMessages } from '../support/sessions'

/** Idempotency-Key: a retry answers the first write's result and appends nothing. */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

function post(session: CreatedSession, path: 'events' | 'presence', body: unknown, key: string, role: 'agent' | 'viewer' = 'agent') {
  return api(server, 'POST', `/api/sessions/${session.id}/${path}`, { json: body, headers: { ...as(role, session, server), 'idempotency-key': key } })
}

const chunk = (session: CreatedSession, text: string) => ({ channel: 'chunks', data: { agentId: session.agentId, text } })

describe('Idempotency-Key', () => {
  it('a retried write returns the same offset and appends once', async () => {
    const session = await createSession(server)
    const body = [chunk(session, 'once'), chunk(session, 'only')]
    const first = await post(session, 'events', body, 'write-1')
    expect(first.status).toBe(200)
    expect(first.body.offset).toBe('0000000000000000_0000000000000002')
    for (let retry = 0; retry < 3; retry++) {
      const again = await post(session, 'events', body, 'write-1')
      expect(again.status).toBe(200)
      expect(again.body).toEqual(first.body)
    }
    const messages = await streamMessages(server, `sessions/${session.id}`)
    expect(messages.map(message => message.value!.text)).toEqual(['once', 'only'])
  })

  it('a retry answers the first offset even after later writes', async () => {
    const session = await createSession(server)
    const first = await post(session, 'events', chunk(session, 'a'), 'k-a')
    await post(session, 'events', chunk(session, 'b'), 'k-b')
    await post(session, 'events', chunk(session, 'c'), 'k-c')
    expect((await post(session, 'events', chunk(session, 'a'), 'k-a')).body.offset).toBe(first.body.offset)
    expect((await streamMessages(server, `sessions/${session.id}`)).map(message => message.value!.text)).toEqual(['a', 'b', 'c'])
  })

  it('concurrent retries of one write append once and all answer the same offset', async () => {
    const session = await createSession(server)
    const responses = await Promise.all(Array.from({ length: 8 }, () => post(session, 'events', chunk(session, 'racing'), 'race')))
    expect(new Set(responses.map(response => response.status))).toEqual(new Set([200]))
    expect(new Set(responses.map(response => response.body.offset)).size).toBe(1)
    expect(await streamMessages(server, `sessions/${session.id}`)).toHaveLength(1)
  })

  it('the same key with a different body is 409, and appends nothing', async () => {
    const session = await createSession(server)
    await post(session, 'events', chunk(session, 'original'), 'reused')
    const conflict = await post(session, 'events', chunk(session, 'different'), 'reused')
    expect(conflict.status).toBe(409)
    expect(conflict.body.message).toMatch(/Idempotency-Key/)
    expect(await streamMessages(server, `sessions/${session.id}`)).toHaveLength(1)
  })

  it('the same key on another endpoint is 409; on another session it is a different key', async () => {
    const session = await createSession(server)
    const other = await createSession(server)
    await post(session, 'events', chunk(session, 'x'), 'shared-key')
    expect((await post(session, 'presence', { userId: 'u', action: 'join' }, 'shared-key', 'viewer')).status).toBe(409)
    const elsewhere = await post(other, 'events', chunk(other, 'x'), 'shared-key')
    expect(elsewhere.status).toBe(200)
    expect(await streamMessages(server, `sessions/${other.id}`)).toHaveLength(1)
  })

  it('presence writes are idempotent too', async () => {
    const session = await createSession(server)
    const body = { userId: 'ada', cursor: { x: 1, y: 2 }, action: 'join' }
    const first = await post(session, 'presence', body, 'p-1', 'viewer')
    const again = await post(session, 'presence', body, 'p-1', 'viewer')
    expect(again.body).toEqual(first.body)
    expect(await streamMessages(server, `sessions/${session.id}/presence`)).toHaveLength(1)
  })

  it('a refused write does not use up its key', async () => {
    const session = await createSession(server)
    expect((await post(session, 'events', chunk(session, 'x'), 'after-403', 'viewer')).status).toBe(403)
    expect((await post(session, 'events', chunk(session, 'x'), 'after-403')).status).toBe(200)
    expect(await streamMessages(server, `sessions/${session.id}`)).toHaveLength(1)
  })

  it('a retry is authorised like a first write: a viewer replaying the agent\'s request gets 403', async () => {
    const session = await createSession(server)
    const body = chunk(session, 'agent only')
    expect((await post(session, 'events', body, 'agents-key')).status).toBe(200)
    const replayed = await post(session, 'events', body, 'agents-key', 'viewer')
    expect(replayed.status, replayed.text).toBe(403)
  })

  it('answers 400 for an empty or over-long key', async () => {
    const session = await createSession(server)
    expect((await post(session, 'events', chunk(session, 'x'), 'k'.repeat(201))).status).toBe(400)
    expect((await post(session, 'events', chunk(session, 'x'), '')).status).toBe(400)
    expect(await streamMessages(server, `sessions/${session.id}`)).toHaveLength(0)
  })

  it('keys are kept at least 24 hours (retention as of 23 hours later keeps them)', async () => {
    const session = await createSession(server)
    const first = await post(session, 'events', chunk(session, 'kept'), 'day-old')
    const retention = await api(server, 'POST', '/api/admin/retention', { json: { now: Date.now() + 23 * 60 * 60 * 1000 }, headers: as('server', session, server) })
    expect(retention.status).toBe(200)
    expect((await post(session, 'events', chunk(session, 'kept'), 'day-old')).body.offset).toBe(first.body.offset)
    expect(await streamMessages(server, `sessions/${session.id}`)).toHaveLength(1)
  })
})
