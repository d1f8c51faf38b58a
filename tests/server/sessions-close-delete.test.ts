import { stream } from '@durable-streams/client'
import type { JsonBatch } from '@durable-streams/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { readAll, streamUrl } from '../support/streams'
import { api, as, createSession, details, eventually, postEvents, postPresence, publish, startSessionServer } from '../support/sessions'

/** POST /api/sessions/:id/close (EOF for every reader, then 409) and DELETE /api/sessions/:id. */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const chunk = (agentId: string, text: string) => ({ channel: 'chunks', data: { agentId, text } })

describe('POST /api/sessions/:id/close', () => {
  it('ends the streams: a live SSE reader gets its data, then streamClosed, and stops', async () => {
    const session = await createSession(server)
    await publish(server, session, chunk(session.agentId, 'before'))

    const batches: JsonBatch<{ value?: { text?: string } }>[] = []
    const urls: URL[] = []
    const reader = await stream<{ value?: { text?: string } }>({
      url: streamUrl(server, `sessions/${session.id}`),
      live: 'sse',
      fetch: (input, init) => {
        urls.push(new URL(input instanceof Request ? input.url : String(input)))
        return fetch(input, init)
      },
    })
    reader.subscribeJson((batch) => { batches.push(batch) })
    await eventually(async () => batches.some(batch => batch.upToDate) || undefined, 'the reader is up to date')

    await publish(server, session, chunk(session.agentId, 'last words'))
    const closed = await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })
    expect(closed.status).toBe(200)
    expect(closed.body).toEqual({ ok: true, offset: '0000000000000000_0000000000000002' })

    await reader.closed
    expect(urls.some(url => url.searchParams.get('live') === 'sse')).toBe(true)
    expect(batches.at(-1)!.streamClosed).toBe(true)
    expect(batches.flatMap(batch => batch.items).map(item => item.value?.text)).toEqual(['before', 'last words'])

    // Catch-up readers see EOF too, on both streams.
    for (const path of [`sessions/${session.id}`, `sessions/${session.id}/presence`]) {
      const read = await readAll(server, path)
      expect(read.closed, path).toBe(true)
    }
    expect((await details(server, session.id)).status).toBe('ended')
  })

  it('then refuses events, presence and the demo with 409, and closing again is a no-op', async () => {
    const session = await createSession(server)
    expect((await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('server', session, server) })).status).toBe(200)
    expect((await postEvents(server, session, chunk(session.agentId, 'x'))).status).toBe(409)
    expect((await postPresence(server, session, { userId: 'u', action: 'join' })).status).toBe(409)
    expect((await api(server, 'POST', `/api/sessions/${session.id}/demo`, { headers: as('agent', session, server) })).status).toBe(409)
    const again = await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })
    expect(again.status).toBe(200)
    expect(again.body.offset).toBe((await readAll(server, `sessions/${session.id}`)).nextOffset)
  })

  it('answers 403 to viewers and collaborators, 401 to a wrong token, 404 to an unknown session', async () => {
    const session = await createSession(server)
    const close = (headers: Record<string, string>, id = session.id) => api(server, 'POST', `/api/sessions/${id}/close`, { headers })
    expect((await close(as('viewer', session, server))).status).toBe(403)
    expect((await close(as('collaborator', session, server))).status).toBe(403)
    expect((await close({ authorization: 'Bearer wrong' })).status).toBe(401)
    expect((await close(as('agent', session, server), 'AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404)
    expect((await details(server, session.id)).status).toBe('active')
  })
})

describe('DELETE /api/sessions/:id', () => {
  it('refuses viewers and collaborators (403) and wrong tokens (401)', async () => {
    const session = await createSession(server)
    const remove = (headers: Record<string, string>) => api(server, 'DELETE', `/api/sessions/${session.id}`, { headers })
    expect((await remove(as('viewer', session, server))).status).toBe(403)
    expect((await remove(as('collaborator', session, server))).status).toBe(403)
    expect((await remove({ authorization: 'Bearer wrong' })).status).toBe(401)
    expect((await details(server, session.id)).id).toBe(session.id)
  })

  it.each(['agent', 'server'] as const)('with the %s token deletes the session and its streams: 204, then 404', async (role) => {
    const session = await createSession(server, { title: `delete-${role}-${Date.now()}` })
    await publish(server, session, chunk(session.agentId, 'x'))
    await postPresence(server, session, { userId: 'u', action: 'join' })
    const response = await api(server, 'DELETE', `/api/sessions/${session.id}`, { headers: as(role, session, server) })
    expect(response.status).toBe(204)
    expect(response.text).toBe('')

    expect((await api(server, 'GET', `/api/sessions/${session.id}`)).status).toBe(404)
    expect((await api(server, 'GET', `/api/sessions/${session.id}/snapshot`)).status).toBe(404)
    expect((await postEvents(server, session, chunk(session.agentId, 'x'))).status).toBe(404)
    expect((await postPresence(server, session, { userId: 'u', action: 'join' })).status).toBe(404)
    expect((await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('server', session, server) })).status).toBe(404)
    expect((await api(server, 'DELETE', `/api/sessions/${session.id}`, { headers: as('server', session, server) })).status).toBe(404)
    expect((await readAll(server, `sessions/${session.id}`)).status).toBe(404)
    expect((await readAll(server, `sessions/${session.id}/presence`)).status).toBe(404)
    expect((await api(server, 'GET', `/api/sessions?q=${encodeURIComponent(session.title)}`)).body.sessions).toEqual([])
  })

  it('deletes an ended session too', async () => {
    const session = await createSession(server)
    await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })
    expect((await api(server, 'DELETE', `/api/sessions/${session.id}`, { headers: as('agent', session, server) })).status).toBe(204)
    expect((await api(server, 'GET', `/api/sessions/${session.id}`)).status).toBe(404)
  })
})
