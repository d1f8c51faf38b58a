import type { TestServer } from './server'

/** Plain-HTTP access to the protocol routes of a test server, for tests that check wire behaviour. */

export const STREAM_PREFIX = '/v1/stream/'

export function streamUrl(server: TestServer, path: string): string {
  return `${server.url}${STREAM_PREFIX}${path}`
}

export function bearer(server: TestServer): Record<string, string> {
  return { authorization: `Bearer ${server.token}` }
}

export interface SimpleResponse {
  status: number
  headers: Headers
  body: Buffer
}

/**
 * One request, body read to the end (so the keep-alive connection is free again). Writes carry
 * the server token unless `headers` sets `authorization` itself (`auth: false` sends none).
 */
export async function call(
  server: TestServer,
  method: string,
  path: string,
  init: { headers?: Record<string, string>, body?: string | Buffer, auth?: boolean, query?: string } = {},
): Promise<SimpleResponse> {
  const headers = { ...(init.auth === false ? {} : bearer(server)), ...init.headers }
  // A copy typed as a plain Uint8Array, which fetch's BodyInit accepts.
  const body = typeof init.body === 'string' || init.body === undefined ? init.body : new Uint8Array(init.body)
  const response = await fetch(`${streamUrl(server, path)}${init.query ?? ''}`, { method, headers, body })
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
}

/** HEAD status without credentials: 200, 404 (absent) or 410 (soft-deleted). */
export async function headStatus(server: TestServer, path: string): Promise<number> {
  return (await call(server, 'HEAD', path, { auth: false })).status
}

export interface FullRead {
  status: number
  contentType: string | null
  /** The bytes of every page, concatenated (for JSON streams: one array per page). */
  body: Buffer
  /** JSON streams: the items of every page, in order. */
  messages: unknown[]
  nextOffset: string | null
  closed: boolean
}

/**
 * Catch-up read from `offset` to the tail, following pagination (a page ends before the tail
 * when it lacks `Stream-Up-To-Date`). JSON pages are arrays; their items are concatenated.
 */
export async function readAll(server: TestServer, path: string, offset = '-1'): Promise<FullRead> {
  const chunks: Buffer[] = []
  const messages: unknown[] = []
  let next = offset
  for (let page = 0; page < 10_000; page++) {
    const response = await call(server, 'GET', path, { auth: false, query: `?offset=${encodeURIComponent(next)}` })
    const contentType = response.headers.get('content-type')
    if (response.status !== 200) {
      return { status: response.status, contentType, body: response.body, messages: [], nextOffset: null, closed: false }
    }
    chunks.push(response.body)
    if (contentType?.startsWith('application/json')) messages.push(...JSON.parse(response.body.toString('utf8')) as unknown[])
    const nextOffset = response.headers.get('stream-next-offset')
    if (!nextOffset) throw new Error(`GET ${path} answered 200 without Stream-Next-Offset`)
    if (response.headers.get('stream-up-to-date') === 'true') {
      return {
        status: 200,
        contentType,
        body: Buffer.concat(chunks),
        messages,
        nextOffset,
        closed: response.headers.get('stream-closed') === 'true',
      }
    }
    if (nextOffset === next) throw new Error(`GET ${path} made no progress at offset ${next}`)
    next = nextOffset
  }
  throw new Error(`GET ${path} did not reach the tail`)
}
