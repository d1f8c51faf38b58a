import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { readAll } from '../support/streams'
import { api, as, asServer, createSession, postEvents, publish, startSessionServer, streamMessages } from '../support/sessions'

/** POST /api/sessions/:id/events: accepted writes, their offsets, and every error status. */

let server: TestServer
let session: CreatedSession

beforeAll(async () => {
  server = await startSessionServer()
  session = await createSession(server, { agentId: 'events-agent' })
})
afterAll(() => server?.stop())

const chunk = (text: string, extra: Record<string, unknown> = {}) => ({ channel: 'chunks', data: { agentId: 'events-agent', text, ...extra } })
/** Another session of the same agent: sharing an agent id between sessions takes the server token. */
const sameAgent = () => createSession(server, { agentId: 'events-agent' }, asServer(server))
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/

async function tail(id: string): Promise<string> {
  const read = await readAll(server, `sessions/${id}`)
  return read.nextOffset!
}

describe('accepted writes', () => {
  it('appends one event and answers the stream\'s next offset', async () => {
    const before = await tail(session.id)
    const response = await postEvents(server, session, chunk('first'))
    expect(response.status).toBe(200)
    expect(response.body).toEqual({ ok: true, offset: expect.any(String) })
    expect(response.body.offset > before).toBe(true)
    expect(response.body.offset).toBe(await tail(session.id))
  })

  it('fills id, sessionId and timestamp where absent, and keeps them where given', async () => {
    const fresh = await sameAgent()
    await publish(server, fresh, [
      chunk('generated'),
      chunk('given', { id: 'my-chunk', sessionId: fresh.id, timestamp: '2026-01-02T03:04:05.000Z' }),
    ])
    const [generated, given] = await streamMessages(server, `sessions/${fresh.id}`)
    expect(generated!.value).toMatchObject({ sessionId: fresh.id, text: 'generated' })
    expect(generated!.value!.id).toMatch(/^[\w-]{8,}$/)
    expect(generated!.key).toBe(generated!.value!.id)
    expect(generated!.value!.timestamp).toMatch(ISO)
    expect(given!.value).toEqual({ id: 'my-chunk', agentId: 'events-agent', sessionId: fresh.id, text: 'given', timestamp: '2026-01-02T03:04:05.000Z' })
    expect(given!.key).toBe('my-chunk')
  })

  it('appends an array in order and answers the offset after the last one', async () => {
    const fresh = await sameAgent()
    const first = await publish(server, fresh, chunk('zero'))
    expect(first).toBe('0000000000000000_0000000000000001')
    const offset = await publish(server, fresh, [chunk('one'), chunk('two'), chunk('three')])
    expect(offset).toBe('0000000000000000_0000000000000004')
    expect(offset).toBe(await tail(fresh.id))
    const messages = await streamMessages(server, `sessions/${fresh.id}`)
    expect(messages.map(message => message.value!.text)).toEqual(['zero', 'one', 'two', 'three'])
  })

  it('accepts every channel from the agent', async () => {
    const offset = await publish(server, session, [
      chunk('c'),
      { channel: 'toolCalls', data: { agentId: 'events-agent', tool: 'ls', input: null, status: 'running' } },
      { channel: 'presence', data: { userId: 'events-agent' } },
      { channel: 'terminal', data: { type: 'output', source: 'agent', data: '$ ls' } },
      { channel: 'workflow', data: { type: 'worktree:created', payload: { branch: 'b' }, taskId: 't' } },
      { channel: 'agentState', data: { agentId: 'events-agent', status: 'running', progress: 5 } },
    ])
    expect(offset).toBe(await tail(session.id))
  })
})

describe('400: the zod issues, naming the field', () => {
  it.each([
    ['a negative turn', chunk('x', { turn: -1 }), 'data.turn'],
    ['a wrong status', { channel: 'toolCalls', data: { agentId: 'a', tool: 't', input: {}, status: 'bogus' } }, 'data.status'],
    ['a missing field', { channel: 'chunks', data: { agentId: 'a' } }, 'data.text'],
    ['an unknown field', chunk('x', { colour: 'red' }), 'colour'],
    ['an unknown channel', { channel: 'emails', data: {} }, 'channel'],
    ['no channel', { data: {} }, 'channel'],
    ['a bad element of an array', [chunk('ok'), { channel: 'terminal', data: { type: 'shout', source: 'agent', data: '' } }], '1.data.type'],
    ['a javascript: avatar', { channel: 'presence', data: { userId: 'u', avatarUrl: 'javascript:alert(1)' } }, 'data.avatarUrl'],
    ['progress over 100', { channel: 'agentState', data: { agentId: 'a', status: 'running', progress: 101 } }, 'data.progress'],
    ['a bad timestamp', chunk('x', { timestamp: 'yesterday' }), 'data.timestamp'],
  ])('%s', async (_, body, field) => {
    const response = await postEvents(server, session, body)
    expect(response.status).toBe(400)
    expect(response.body.message).toContain(field)
    expect(response.body.data.code).toBe('invalid')
    expect(response.body.data.issues.length).toBeGreaterThan(0)
    for (const issue of response.body.data.issues) expect(issue).toMatchObject({ path: expect.any(Array), message: expect.any(String) })
  })

  it('names the path of each issue', async () => {
    const response = await postEvents(server, session, { channel: 'toolCalls', data: { agentId: 'a', tool: 't', input: {}, status: 'bogus' } })
    expect(response.body.data.issues).toContainEqual(expect.objectContaining({ path: ['data', 'status'] }))
  })

  it('refuses a sessionId that is not the session of the URL', async () => {
    const response = await postEvents(server, session, chunk('x', { sessionId: 'another-session' }))
    expect(response.status).toBe(400)
    expect(response.body.message).toContain('sessionId')
  })

  it('refuses an empty array, more than 1000 events, and malformed JSON', async () => {
    expect((await postEvents(server, session, [])).status).toBe(400)
    expect((await postEvents(server, session, Array.from({ length: 1001 }, () => chunk('x')))).status).toBe(400)
    const malformed = await api(server, 'POST', `/api/sessions/${session.id}/events`, { raw: '{"channel":', headers: as('agent', session, server) })
    expect(malformed.status).toBe(400)
  })

  it('appends nothing when any event of a batch is invalid', async () => {
    const before = await tail(session.id)
    expect((await postEvents(server, session, [chunk('fine'), chunk('bad', { turn: 'one' })])).status).toBe(400)
    expect(await tail(session.id)).toBe(before)
  })
})

describe('401, 403, 404, 409, 413, 415', () => {
  it('401 for a wrong bearer token or a wrong collaborator key', async () => {
    const other = await createSession(server)
    const wrong: Record<string, string>[] = [
      { authorization: 'Bearer not-a-token' },
      { authorization: `Bearer ${other.agentToken}` },
      { 'x-collaborator-key': 'not-a-key' },
      { 'x-collaborator-key': other.collaboratorKey },
    ]
    for (const headers of wrong) {
      const response = await postEvents(server, session, chunk('x'), headers)
      expect(response.status, JSON.stringify(headers)).toBe(401)
    }
  })

  it('403 for a viewer writing an agent channel', async () => {
    const response = await postEvents(server, session, chunk('x'), {})
    expect(response.status).toBe(403)
    expect(response.body.message).toMatch(/agent token/)
  })

  it('404 for an unknown session', async () => {
    const response = await api(server, 'POST', '/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/events', { json: chunk('x'), headers: as('agent', session, server) })
    expect(response.status).toBe(404)
    expect((await api(server, 'POST', '/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/events', { json: chunk('x') })).status).toBe(404)
  })

  it('409 for an ended session', async () => {
    const ended = await sameAgent()
    expect((await api(server, 'POST', `/api/sessions/${ended.id}/close`, { headers: as('agent', ended, server) })).status).toBe(200)
    const response = await postEvents(server, ended, chunk('too late'))
    expect(response.status).toBe(409)
    expect(response.body.message).toMatch(/ended/)
  })

  it('413 for a body over 1 MiB, appending nothing', async () => {
    const before = await tail(session.id)
    const big = Array.from({ length: 11 }, () => chunk('x'.repeat(100_000)))
    expect(JSON.stringify(big).length).toBeGreaterThan(1024 * 1024)
    const response = await postEvents(server, session, big)
    expect(response.status).toBe(413)
    expect(await tail(session.id)).toBe(before)
  })

  it('415 for a body that is not JSON', async () => {
    const headers = as('agent', session, server)
    const text = await api(server, 'POST', `/api/sessions/${session.id}/events`, { raw: JSON.stringify(chunk('x')), contentType: 'text/plain', headers })
    expect(text.status).toBe(415)
    const form = await api(server, 'POST', `/api/sessions/${session.id}/events`, { raw: 'channel=chunks', contentType: 'application/x-www-form-urlencoded', headers })
    expect(form.status).toBe(415)
  })
})
