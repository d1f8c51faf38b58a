import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { encodeRequest, openRequest, rawExchange } from '../support/http'
import type { RawRequest } from '../support/http'
import type { TestServer } from '../support/server'
import { createSession, snapshot, startSessionServer } from '../support/sessions'
import { call, readAll } from '../support/streams'

/**
 * A request refused before its body was read (wrong token, too large, no such route) still gets
 * its answer while the client is uploading. A server that answers and closes the connection with
 * the body still arriving resets it, and the client sees a broken pipe instead of the 401 or 413
 * that tells it what to fix — under load, and with `Connection: close`, most of the time.
 *
 * Each upload here is sent in pieces, one per turn of the client's event loop, so it is still
 * under way when the answer comes; many run at once, to both the protocol and the session API.
 */

const APPEND_LIMIT = 256 * 1024
/** The session API's body limit (server/utils/api.ts), plus one. */
const BIG = 1024 * 1024 + 1
const PARALLEL = 16
const ROUNDS = 8

let server: TestServer
let session: CreatedSession

beforeAll(async () => {
  server = await startSessionServer({ env: { NUXT_DURABLE_SESSIONS_STREAMS_MAX_APPEND_BYTES: String(APPEND_LIMIT) } })
  session = await createSession(server, { title: 'uploads' })
  expect((await call(server, 'PUT', 'uploads/target', { headers: { 'content-type': 'application/json' }, body: '[1]' })).status).toBe(201)
})
afterAll(() => server?.stop())

interface Upload {
  label: string
  request: Omit<RawRequest, 'chunked' | 'close'>
  status: number
}

function uploads(): Upload[] {
  const json = { 'content-type': 'application/json' }
  const body = Buffer.alloc(BIG, 0x20)
  const stream = '/v1/stream/uploads/target'
  const events = `/api/sessions/${session.id}/events`
  return [
    { label: 'protocol append, no token', request: { method: 'POST', path: `${stream}?offset=now&live=sse`, headers: { ...json, 'producer-epoch': '.c' }, body }, status: 401 },
    { label: 'protocol append, wrong token', request: { method: 'POST', path: stream, headers: { ...json, authorization: 'Bearer wrong' }, body }, status: 401 },
    { label: 'protocol append over the limit', request: { method: 'POST', path: stream, headers: { ...json, authorization: `Bearer ${server.token}` }, body }, status: 413 },
    { label: 'protocol create over the limit', request: { method: 'PUT', path: '/v1/stream/uploads/too-big', headers: { ...json, authorization: `Bearer ${server.token}` }, body }, status: 413 },
    { label: 'session events, wrong agent token', request: { method: 'POST', path: events, headers: { ...json, authorization: 'Bearer wrong' }, body }, status: 401 },
    { label: 'session events over the limit', request: { method: 'POST', path: events, headers: { ...json, authorization: `Bearer ${session.agentToken}` }, body }, status: 413 },
    { label: 'session close, which reads no body, as a viewer', request: { method: 'POST', path: `/api/sessions/${session.id}/close`, headers: json, body }, status: 403 },
    { label: 'no such API route', request: { method: 'POST', path: '/api/nowhere', headers: json, body }, status: 404 },
  ]
}

describe('a request refused before its body is read', () => {
  it('gets its answer while the client is still uploading: chunked or not, keep-alive or close, many at once', { timeout: 180_000 }, async () => {
    const before = { stream: await readAll(server, 'uploads/target'), session: await snapshot(server, session.id) }
    const variants = uploads().flatMap(upload => [true, false].flatMap(chunked => [true, false].map(close => ({ ...upload, chunked, close }))))
    const queue = Array.from({ length: ROUNDS }, () => variants).flat()
    const wrong: string[] = []
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { label, request, status, chunked, close } = next
        const answer = await rawExchange(server.url, encodeRequest(server.url, { ...request, chunked, close }), 60_000, { pieceBytes: 16 * 1024 })
        if (answer.status !== status) wrong.push(`${label} (chunked=${chunked}, close=${close}): ${answer.status || 'no answer'} instead of ${status}`)
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, worker))
    expect(wrong).toEqual([])

    expect(await readAll(server, 'uploads/target')).toEqual(before.stream)
    expect((await call(server, 'HEAD', 'uploads/too-big', { auth: false })).status).toBe(404)
    const after = await snapshot(server, session.id)
    expect({ ...after, session: undefined }).toEqual({ ...before.session, session: undefined })
    expect(after.session.status).toBe(before.session.session.status)
  })

  it('a client that leaves mid-upload changes nothing and is no server error', async () => {
    const before = { stream: await readAll(server, 'uploads/target'), session: await snapshot(server, session.id) }
    const targets: Array<[string, Record<string, string>]> = [
      ['/v1/stream/uploads/target', { authorization: `Bearer ${server.token}` }],
      [`/api/sessions/${session.id}/events`, { authorization: `Bearer ${session.agentToken}` }],
    ]
    for (const [path, headers] of targets) {
      const upload = openRequest(server.url, path, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' } })
      upload.response.catch(() => undefined)
      await new Promise(resolve => upload.request.write('[{"channel":"chunks","data":', resolve))
      upload.request.destroy()
    }
    // The server has seen both leave once a later request on the same stream is answered.
    expect(await readAll(server, 'uploads/target')).toEqual(before.stream)
    const after = await snapshot(server, session.id)
    expect({ ...after, session: undefined }).toEqual({ ...before.session, session: undefined })
    expect(server.log).not.toMatch(/request failed/)
  })
})
