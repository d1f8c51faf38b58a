import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { api, as, asServer, createSession, details, joinPresence, list, postEvents, postPresence, publish, snapshot, startSessionServer, streamMessages, withPresenceKey } from '../support/sessions'

/** Sessions, their streams, offsets, secrets, presence keys and idempotency keys survive a graceful restart and a crash. */

let server: TestServer
let active: CreatedSession
let ended: CreatedSession
let adaKey: string
const prefix = `restart-${Date.now()}`

beforeAll(async () => {
  server = await startSessionServer()
  ended = await createSession(server, { title: `${prefix} ended` })
  active = await createSession(server, { title: `${prefix} active`, agentId: `restart-agent-${Date.now()}` })
  await publish(server, ended, { channel: 'chunks', data: { agentId: ended.agentId, text: 'bye' } })
  await api(server, 'POST', `/api/sessions/${ended.id}/close`, { headers: as('agent', ended, server) })
  await publish(server, active, [
    { channel: 'chunks', data: { agentId: active.agentId, text: 'Hello ', turn: 1 } },
    { channel: 'toolCalls', data: { id: 't1', agentId: active.agentId, tool: 'ls', input: {}, status: 'pending' } },
    { channel: 'agentState', data: { agentId: active.agentId, status: 'running', progress: 20 } },
  ])
  await publish(server, active, { channel: 'toolCalls', data: { id: 't1', agentId: active.agentId, tool: 'ls', input: {}, status: 'complete', duration: 3 } })
  adaKey = (await joinPresence(server, active, 'ada', { displayName: 'Ada' })).presenceKey
})
afterAll(() => server?.stop())

interface Observed {
  list: unknown
  details: unknown[]
  snapshots: unknown[]
  streams: unknown[]
}

async function observe(): Promise<Observed> {
  const sessions = [active, ended]
  return {
    list: await list(server, `?q=${prefix}`, asServer(server)),
    details: await Promise.all(sessions.map(session => details(server, session.id))),
    snapshots: await Promise.all(sessions.map(session => snapshot(server, session.id))),
    streams: await Promise.all([
      ...sessions.map(session => streamMessages(server, `sessions/${session.id}`)),
      streamMessages(server, `sessions/${active.id}/presence`),
      streamMessages(server, `agents/${active.agentId}`),
    ]),
  }
}

/** Restarts the server (how), then checks everything reads the same and writes go on at the right offset. */
async function survives(how: () => Promise<void>, label: string) {
  const before = await observe()
  const tail = (await details(server, active.id)).tailOffset!
  const keyed = await api(server, 'POST', `/api/sessions/${active.id}/events`, {
    json: { channel: 'chunks', data: { agentId: active.agentId, text: `keyed ${label}` } },
    headers: { ...as('agent', active, server), 'idempotency-key': `before-${label}` },
  })
  expect(keyed.status).toBe(200)
  const beforeRestart = await observe()
  expect(beforeRestart).not.toEqual(before)

  await how()

  expect(await observe()).toEqual(beforeRestart)
  // The Idempotency-Key written before the restart still answers the first result.
  const retried = await api(server, 'POST', `/api/sessions/${active.id}/events`, {
    json: { channel: 'chunks', data: { agentId: active.agentId, text: `keyed ${label}` } },
    headers: { ...as('agent', active, server), 'idempotency-key': `before-${label}` },
  })
  expect(retried.body).toEqual(keyed.body)
  // The secrets still work; writes continue right after the old tail, updates are still updates.
  const next = await publish(server, active, { channel: 'toolCalls', data: { id: 't1', agentId: active.agentId, tool: 'ls', input: {}, status: 'error' } })
  expect(Number(next.split('_')[1])).toBe(Number(tail.split('_')[1]) + 2)
  const last = (await streamMessages(server, `sessions/${active.id}`)).at(-1)!
  expect(last).toMatchObject({ type: 'tool', key: 't1', headers: { operation: 'update' } })
  const presence = await postPresence(server, active, { userId: 'ada', action: 'heartbeat' }, withPresenceKey(adaKey))
  expect(presence.status).toBe(200)
  expect((await streamMessages(server, `sessions/${active.id}/presence`)).at(-1)!.headers.operation).toBe('update')
  expect((await postEvents(server, active, { channel: 'terminal', data: { type: 'input', source: 'user', data: 'ls' } }, as('collaborator', active, server))).status).toBe(200)
  expect((await postEvents(server, ended, { channel: 'chunks', data: { agentId: ended.agentId, text: 'x' } })).status).toBe(409)
}

describe('sessions survive a restart', () => {
  it('graceful: restart()', async () => {
    await survives(() => server.restart(), 'graceful')
  })

  it('crash: kill() then restart()', async () => {
    await survives(async () => {
      await server.kill()
      await server.restart()
    }, 'crash')
  })
})
