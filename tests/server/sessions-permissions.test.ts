import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { call } from '../support/streams'
import { ROLES, api, as, createSession, startSessionServer } from '../support/sessions'
import type { ApiResponse, Role } from '../support/sessions'

/**
 * The capability matrix: the session id (viewer) reads and joins presence; the collaborator key
 * adds user terminal input, prompts and approval decisions; the agent token every channel (presence on
 * /events for its own agents only), listing, close, delete and the demo; the server token
 * everything. Each cell runs on a session of its own.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

type Write = (session: CreatedSession, headers: Record<string, string>) => Promise<ApiResponse>

const event = (channel: string, data: (session: CreatedSession) => Record<string, unknown>): Write =>
  (session, headers) => api(server, 'POST', `/api/sessions/${session.id}/events`, { json: { channel, data: data(session) }, headers })

/** A decision answers a pending request: the agent asks first, then `headers` decide. */
const decision = (type: string): Write => async (session, headers) => {
  await api(server, 'POST', `/api/sessions/${session.id}/events`, {
    json: { channel: 'workflow', data: { id: 'r1', type: 'approval:requested', payload: { title: 'merge?' } } },
    headers: { authorization: `Bearer ${session.agentToken}` },
  })
  return event('workflow', () => ({ type, payload: { requestId: 'r1' }, actor: 'ada' }))(session, headers)
}

const WRITES: Record<string, Write> = {
  'chunks': event('chunks', s => ({ agentId: s.agentId, text: 'hi' })),
  'toolCalls': event('toolCalls', s => ({ agentId: s.agentId, tool: 'ls', input: {}, status: 'pending' })),
  'presence (events endpoint)': event('presence', s => ({ userId: s.agentId })),
  'presence (presence endpoint)': (s, headers) => api(server, 'POST', `/api/sessions/${s.id}/presence`, { json: { userId: 'u1', action: 'join' }, headers }),
  'terminal input from user': event('terminal', () => ({ type: 'input', source: 'user', data: 'ls' })),
  'terminal input from agent': event('terminal', () => ({ type: 'input', source: 'agent', data: '$ ls' })),
  'terminal output from agent': event('terminal', () => ({ type: 'output', source: 'agent', data: 'a.ts' })),
  'terminal output from user': event('terminal', () => ({ type: 'output', source: 'user', data: 'forged' })),
  'workflow approval:approved': decision('approval:approved'),
  'workflow approval:rejected': decision('approval:rejected'),
  'workflow approval:requested': event('workflow', () => ({ type: 'approval:requested', payload: { title: 'merge?' } })),
  'workflow worktree:created': event('workflow', () => ({ type: 'worktree:created', payload: { branch: 'b' } })),
  'agentState': event('agentState', s => ({ agentId: s.agentId, status: 'running', progress: 1 })),
  'prompts': event('prompts', () => ({ text: 'What changed?' })),
  'answers': event('answers', s => ({ id: 'p1', agentId: s.agentId, status: 'running', parts: [] })),
  'list or unlist': (s, headers) => api(server, 'PATCH', `/api/sessions/${s.id}`, { json: { public: true }, headers }),
  'close': (s, headers) => api(server, 'POST', `/api/sessions/${s.id}/close`, { headers }),
  'delete': (s, headers) => api(server, 'DELETE', `/api/sessions/${s.id}`, { headers }),
  'demo': (s, headers) => api(server, 'POST', `/api/sessions/${s.id}/demo`, { json: { speed: 50 }, headers }),
}

/** Expected status per role: viewer, collaborator, agent, server token. */
const MATRIX: [keyof typeof WRITES, [number, number, number, number]][] = [
  ['chunks', [403, 403, 200, 200]],
  ['toolCalls', [403, 403, 200, 200]],
  ['presence (events endpoint)', [403, 403, 200, 200]],
  ['presence (presence endpoint)', [200, 200, 200, 200]],
  ['terminal input from user', [403, 200, 200, 200]],
  ['terminal input from agent', [403, 403, 200, 200]],
  ['terminal output from agent', [403, 403, 200, 200]],
  ['terminal output from user', [403, 403, 200, 200]],
  ['workflow approval:approved', [403, 200, 200, 200]],
  ['workflow approval:rejected', [403, 200, 200, 200]],
  ['workflow approval:requested', [403, 403, 200, 200]],
  ['workflow worktree:created', [403, 403, 200, 200]],
  ['agentState', [403, 403, 200, 200]],
  ['prompts', [403, 200, 200, 200]],
  ['answers', [403, 403, 200, 200]],
  ['list or unlist', [403, 403, 200, 200]],
  ['close', [403, 403, 200, 200]],
  ['delete', [403, 403, 204, 204]],
  ['demo', [403, 403, 202, 202]],
]

const CASES = MATRIX.flatMap(([write, statuses]) => ROLES.map((role, column) => [write, role, statuses[column]!] as [string, Role, number]))

describe('permission matrix', () => {
  it.each(CASES)('%s as %s → %i', async (write, role, expected) => {
    const session = await createSession(server)
    const response = await WRITES[write]!(session, as(role, session, server))
    expect(response.status, response.text).toBe(expected)
    if (write === 'demo' && expected === 202) {
      // Stop the demo agent: closing the session ends it.
      await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })
    }
  })

  it('a forbidden event anywhere in a batch refuses the whole batch', async () => {
    const session = await createSession(server)
    const batch = [
      { channel: 'terminal', data: { type: 'input', source: 'user', data: 'ls' } },
      { channel: 'chunks', data: { agentId: session.agentId, text: 'sneaky' } },
    ]
    const response = await api(server, 'POST', `/api/sessions/${session.id}/events`, { json: batch, headers: as('collaborator', session, server) })
    expect(response.status).toBe(403)
    expect((await api(server, 'GET', `/v1/stream/sessions/${session.id}?offset=-1`)).body).toEqual([])
  })

  it.each(Object.keys(WRITES))('%s with a presented but wrong credential → 401', async (write) => {
    const session = await createSession(server)
    const other = await createSession(server)
    const wrong: Record<string, string>[] = [{ authorization: 'Bearer wrong' }, { authorization: `Bearer ${other.agentToken}` }, { 'x-collaborator-key': other.collaboratorKey }]
    for (const headers of wrong) {
      const response = await WRITES[write]!(session, headers)
      expect(response.status, `${JSON.stringify(headers)}: ${response.text}`).toBe(401)
    }
  })
})

describe('raw protocol writes to session streams need the server token', () => {
  const RAW: [string, string, (s: CreatedSession) => string, Record<string, string>, string | undefined][] = [
    ['PUT (create with the same config)', 'PUT', s => `sessions/${s.id}`, { 'content-type': 'application/json' }, undefined],
    ['POST (append)', 'POST', s => `sessions/${s.id}`, { 'content-type': 'application/json' }, '[{"raw":true}]'],
    ['POST (append to presence)', 'POST', s => `sessions/${s.id}/presence`, { 'content-type': 'application/json' }, '[{"raw":true}]'],
    ['PUT (a new stream under the session)', 'PUT', s => `sessions/${s.id}/extra`, { 'content-type': 'application/json' }, undefined],
    ['DELETE', 'DELETE', s => `sessions/${s.id}`, {}, undefined],
    ['DELETE presence', 'DELETE', s => `sessions/${s.id}/presence`, {}, undefined],
  ]

  it.each(RAW)('%s: 401 for no token, the collaborator key and the agent token; accepted with the server token', async (_, method, path, headers, body) => {
    const session = await createSession(server)
    const refused: Record<string, string>[] = [
      {},
      { 'x-collaborator-key': session.collaboratorKey },
      { authorization: `Bearer ${session.agentToken}` },
    ]
    for (const credentials of refused) {
      const response = await call(server, method, path(session), { auth: false, headers: { ...headers, ...credentials }, body })
      expect(response.status, JSON.stringify(credentials)).toBe(401)
    }
    // Nothing reached the stream.
    expect((await call(server, 'GET', `sessions/${session.id}`, { auth: false, query: '?offset=-1' })).body.toString()).toBe('[]')
    const accepted = await call(server, method, path(session), { headers, body })
    expect(accepted.status).toBeGreaterThanOrEqual(200)
    expect(accepted.status).toBeLessThan(300)
  })

  it('reads are open to anyone holding the id', async () => {
    const session = await createSession(server)
    expect((await call(server, 'GET', `sessions/${session.id}`, { auth: false, query: '?offset=-1' })).status).toBe(200)
    expect((await call(server, 'GET', `sessions/${session.id}/presence`, { auth: false, query: '?offset=-1' })).status).toBe(200)
    expect((await call(server, 'GET', `agents/${session.agentId}`, { auth: false, query: '?offset=-1' })).status).toBe(200)
  })
})
