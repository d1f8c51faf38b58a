import { readdirSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { resolve } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chooseContentCoding } from '../../server/compression'
import type { CreatedSession } from '../../shared/sessions/api'
import { nodeRequest } from '../support/http'
import type { TestServer } from '../support/server'
import { createSession, publish, startSessionServer } from '../support/sessions'

/**
 * Pages, API answers and built assets travel compressed when the client accepts it; the live
 * protocol reads (SSE, long-poll) are never compressed, so never held back.
 */

let server: TestServer
let session: CreatedSession

beforeAll(async () => {
  server = await startSessionServer()
  session = await createSession(server, { title: 'Compressed' })
  await publish(server, session, Array.from({ length: 200 }, (_, n) => ({ channel: 'terminal', data: { type: 'output', source: 'agent', data: `line ${n}` } })))
})
afterAll(() => server?.stop())

describe('compression', () => {
  it('sends the session page as brotli, gzip or plain, as accepted', async () => {
    const path = `/sessions/${session.id}`
    const plain = await nodeRequest(server.url, path)
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.headers.vary).toContain('Accept-Encoding')
    const br = await nodeRequest(server.url, path, { headers: { 'accept-encoding': 'gzip, deflate, br' } })
    expect(br.headers['content-encoding']).toBe('br')
    const html = brotliDecompressSync(br.body).toString()
    expect(html).toContain('line 199')
    expect(br.body.length).toBeLessThan(html.length / 3)
    const gzip = await nodeRequest(server.url, path, { headers: { 'accept-encoding': 'gzip, br;q=0' } })
    expect(gzip.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gzip.body).toString()).toContain('line 199')
  })

  it('sends the 404 page whole to a client that accepts compression', async () => {
    const missing = await nodeRequest(server.url, '/sessions/no-such-session', { headers: { 'accept-encoding': 'gzip, br' } })
    expect(missing.status).toBe(404)
    const encoding = missing.headers['content-encoding']
    const html = encoding === 'br' ? brotliDecompressSync(missing.body).toString() : encoding === 'gzip' ? gunzipSync(missing.body).toString() : missing.body.toString()
    expect(html).toContain('This session does not exist')
  })

  it('sends API answers compressed as JSON', async () => {
    const answer = await nodeRequest(server.url, `/api/sessions/${session.id}/snapshot`, { headers: { 'accept-encoding': 'gzip' } })
    expect(answer.status).toBe(200)
    expect(answer.headers['content-encoding']).toBe('gzip')
    expect(answer.headers['content-type']).toContain('application/json')
    expect(JSON.parse(gunzipSync(answer.body).toString()).state.terminal).toHaveLength(200)
  })

  it('serves built scripts precompressed', async () => {
    const script = readdirSync(resolve('.output/public/_nuxt')).find(name => name.endsWith('.js'))!
    const answer = await nodeRequest(server.url, `/_nuxt/${script}`, { headers: { 'accept-encoding': 'br' } })
    expect(answer.headers['content-encoding']).toBe('br')
    expect(brotliDecompressSync(answer.body).length).toBeGreaterThan(answer.body.length)
  })

  it('streams SSE uncompressed, each event as it is written', async () => {
    const events: string[] = []
    const opened = new Promise<{ headers: Record<string, unknown>, close: () => void }>((resolveOpen, reject) => {
      const url = new URL(server.url)
      const request = httpRequest({ host: url.hostname, port: url.port, path: `/v1/stream/sessions/${session.id}?offset=now&live=sse`, headers: { 'accept-encoding': 'gzip, br' } }, (response) => {
        response.setEncoding('utf8')
        response.on('data', (text: string) => events.push(text))
        resolveOpen({ headers: response.headers, close: () => request.destroy() })
      })
      request.on('error', reject)
      request.end()
    })
    const { headers, close } = await opened
    try {
      expect(headers['content-type']).toBe('text/event-stream')
      expect(headers['content-encoding']).toBeUndefined()
      await publish(server, session, { channel: 'terminal', data: { type: 'output', source: 'agent', data: 'live line' } })
      // The event arrives while the response is still open: nothing waits for its end.
      for (let waited = 0; !events.join('').includes('live line'); waited += 10) {
        if (waited > 10_000) throw new Error(`no live event; received ${JSON.stringify(events.join(''))}`)
        await new Promise(resolveWait => setTimeout(resolveWait, 10))
      }
    }
    finally {
      close()
    }
  })

  it('reads Accept-Encoding with its weights', () => {
    expect(chooseContentCoding(undefined)).toBeUndefined()
    expect(chooseContentCoding('identity')).toBeUndefined()
    expect(chooseContentCoding('gzip, deflate, br, zstd')).toBe('br')
    expect(chooseContentCoding('br;q=0, gzip;q=0.5')).toBe('gzip')
    expect(chooseContentCoding('*')).toBe('br')
    expect(chooseContentCoding('*, br;q=0')).toBe('gzip')
    expect(chooseContentCoding('gzip;q=0, br;q=0')).toBeUndefined()
    expect(chooseContentCoding(`${'x;q=1,'.repeat(10_000)}gzip`)).toBe('gzip')
  })
})
