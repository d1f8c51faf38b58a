import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../support/server'
import type { TestServer } from '../support/server'
import { call, streamUrl } from '../support/streams'

/**
 * Raw streams are served from the app's origin, so a stream written as `text/html` must never
 * become a page of that origin (its script could read every agent token in localStorage). Every
 * stream response says `nosniff` and `Content-Security-Policy: sandbox; default-src 'none'`
 * (no script, no origin, nothing loaded), and types a browser would render as a document of
 * their own are attachments. Reads still return the exact bytes. A browser opening one is in
 * tests/e2e/rendering.test.ts.
 */

const CSP = 'sandbox; default-src \'none\''
const ACTIVE_TYPES = [
  'text/html', 'TEXT/HTML; charset=utf-8', 'application/xhtml+xml', 'image/svg+xml', 'Image/SVG+XML;charset=utf-8',
  'text/xml', 'application/xml', 'application/rss+xml', 'application/xslt+xml', 'text/xsl',
  'text/javascript', 'application/javascript', 'application/ecmascript', 'text/ecmascript', 'application/x-javascript',
  'text/vbscript', 'text/x-component', 'multipart/x-mixed-replace; boundary=x', 'application/pdf',
  // Not known to be inert: a browser might sniff or render it one day.
  'text/markdown', 'application/x-something-new',
]
const INERT_TYPES = ['text/plain', 'text/plain; charset=utf-8', 'application/json', 'application/octet-stream', 'image/png', 'text/csv']
const PAGE = '<!doctype html><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg><img src=x onerror="alert(1)">'

let server: TestServer

beforeAll(async () => {
  server = await startServer({ env: { NUXT_DURABLE_SESSIONS_STREAMS_LONG_POLL_TIMEOUT_MS: '200' } })
})
afterAll(() => server?.stop())

function expectInert(response: { status: number, headers: Headers }, label: string): void {
  expect(response.headers.get('x-content-type-options'), `${label} (${response.status}): nosniff`).toBe('nosniff')
  expect(response.headers.get('content-security-policy'), `${label} (${response.status}): CSP`).toBe(CSP)
}

const path = (n: number) => `inert/stream-${n}`

describe('every stream response', () => {
  it('carries nosniff and a sandboxing CSP: every method, errors, 204, 304, long-poll and SSE', async () => {
    const text = { 'content-type': 'text/plain' }
    const responses: Array<[string, { status: number, headers: Headers }]> = [
      ['PUT', await call(server, 'PUT', 'inert/all', { headers: text, body: 'one' })],
      ['PUT again', await call(server, 'PUT', 'inert/all', { headers: text })],
      ['POST', await call(server, 'POST', 'inert/all', { headers: text, body: 'two' })],
      ['HEAD', await call(server, 'HEAD', 'inert/all')],
      ['OPTIONS', await call(server, 'OPTIONS', 'inert/all')],
      ['405', await call(server, 'PATCH', 'inert/all')],
      ['401', await call(server, 'POST', 'inert/all', { headers: text, body: 'x', auth: false })],
      ['404', await call(server, 'GET', 'inert/missing', { query: '?offset=-1' })],
      ['400', await call(server, 'GET', 'inert/all', { query: '?offset=bogus' })],
      ['409', await call(server, 'POST', 'inert/all', { headers: { 'content-type': 'application/json' }, body: '[1]' })],
    ]
    const read = await call(server, 'GET', 'inert/all', { query: '?offset=-1' })
    responses.push(['GET', read])
    responses.push(['304', await call(server, 'GET', 'inert/all', { query: '?offset=-1', headers: { 'if-none-match': read.headers.get('etag')! } })])
    const tail = read.headers.get('stream-next-offset')!
    responses.push(['long-poll 204', await call(server, 'GET', 'inert/all', { query: `?offset=${tail}&live=long-poll` })])
    const controller = new AbortController()
    const sse = await fetch(`${streamUrl(server, 'inert/all')}?offset=-1&live=sse`, { signal: controller.signal })
    controller.abort()
    responses.push(['SSE', sse])
    responses.push(['DELETE', await call(server, 'DELETE', 'inert/all')])

    expect(responses.map(([label, response]) => `${label} ${response.status}`)).toEqual([
      'PUT 201', 'PUT again 200', 'POST 204', 'HEAD 200', 'OPTIONS 204', '405 405', '401 401', '404 404', '400 400', '409 409',
      'GET 200', '304 304', 'long-poll 204 204', 'SSE 200', 'DELETE 204',
    ])
    for (const [label, response] of responses) expectInert(response, label)
  })
})

describe('content types a browser would render as a document, or might', () => {
  it('are served as attachments (whatever their case and parameters), with the exact bytes', async () => {
    const types = [...ACTIVE_TYPES.map(type => [type, true] as const), ...INERT_TYPES.map(type => [type, false] as const)]
    for (const [n, [type, active]] of types.entries()) {
      // A JSON stream holds the page as a string; a read answers the array of its messages.
      const json = type === 'application/json'
      expect((await call(server, 'PUT', path(n), { headers: { 'content-type': type }, body: json ? JSON.stringify(PAGE) : PAGE })).status, type).toBe(201)
      const read = await call(server, 'GET', path(n), { query: '?offset=-1' })
      const head = await call(server, 'HEAD', path(n))
      for (const [label, response] of [['GET', read], ['HEAD', head]] as const) {
        expect(response.status, `${label} ${type}`).toBe(200)
        expectInert(response, `${label} ${type}`)
        expect(response.headers.get('content-disposition'), `${label} ${type}`).toBe(active ? 'attachment' : null)
      }
      expect(read.body.toString('utf8'), type).toBe(json ? JSON.stringify([PAGE]) : PAGE)
    }
  })
})
