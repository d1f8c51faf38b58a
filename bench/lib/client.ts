import { Agent, request } from 'undici'
import { STREAM_PREFIX } from './servers'

/**
 * The one protocol client every server is measured with: plain HTTP through undici's
 * `request` — the engine under Node's built-in fetch, without fetch's WHATWG Request/Response
 * and web-stream layers — and no protocol library. undici is a dependency of nuxt, locked at
 * node_modules/undici. The lower per-request cost matters on 2 cores: in a probe on this
 * machine (8 closed-loop writers against a do-nothing HTTP server) the built-in fetch reached
 * 13k requests/s and undici.request 55k; with fetch, the client rather than the server was
 * the limit of the fast runs. The client's CPU use is reported with every figure.
 *
 * Reads send `Accept-Encoding: identity` (undici sends none by default; stated for clarity):
 * the reference gzips catch-up bodies when asked and ours does not, and the comparison would
 * then be of gzip/gunzip speed on loopback rather than of reading a stream.
 */
const agent = new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 30_000, bodyTimeout: 0, headersTimeout: 60_000 })

export async function closeClient(): Promise<void> {
  await agent.close().catch(() => {})
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** A request to the app itself (session API, pages), through the same agent as the protocol client. */
export async function appRequest(url: string, init: { method?: 'GET' | 'POST', headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, body: string }> {
  const res = await request(url, { dispatcher: agent, method: init.method ?? 'GET', headers: init.headers, body: init.body })
  return { status: res.statusCode, body: await res.body.text() }
}

export class StreamClient {
  constructor(readonly origin: string) {}

  url(path: string, query = ''): string {
    return `${this.origin}${STREAM_PREFIX}${path}${query ? `?${query}` : ''}`
  }

  async create(path: string, contentType = 'application/json'): Promise<void> {
    const res = await request(this.url(path), { dispatcher: agent, method: 'PUT', headers: { 'content-type': contentType } })
    await res.body.dump()
    if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`PUT ${path}: HTTP ${res.statusCode}`)
  }

  /** One POST; resolves to the HTTP status (the body, if any, is drained). */
  async append(path: string, body: string, contentType = 'application/json'): Promise<number> {
    const res = await request(this.url(path), { dispatcher: agent, method: 'POST', headers: { 'content-type': contentType }, body })
    await res.body.dump()
    return res.statusCode
  }

  /** Closes the stream (a close-only POST). */
  async close(path: string): Promise<void> {
    const res = await request(this.url(path), { dispatcher: agent, method: 'POST', headers: { 'stream-closed': 'true' } })
    await res.body.dump()
    if (res.statusCode !== 204 && res.statusCode !== 200) throw new Error(`close ${path}: HTTP ${res.statusCode}`)
  }

  /** The tail offset (Stream-Next-Offset of HEAD). */
  async tail(path: string): Promise<string> {
    const res = await request(this.url(path), { dispatcher: agent, method: 'HEAD' })
    await res.body.dump()
    const offset = headerValue(res.headers['stream-next-offset'])
    if (res.statusCode !== 200 || !offset) throw new Error(`HEAD ${path}: HTTP ${res.statusCode}`)
    return offset
  }

  /** One catch-up GET. */
  async read(path: string, offset: string): Promise<{ status: number, body: string, nextOffset: string | undefined, upToDate: boolean }> {
    const res = await request(this.url(path, `offset=${encodeURIComponent(offset)}`), { dispatcher: agent, headers: { 'accept-encoding': 'identity' } })
    const body = await res.body.text()
    return {
      status: res.statusCode,
      body,
      nextOffset: headerValue(res.headers['stream-next-offset']),
      upToDate: headerValue(res.headers['stream-up-to-date']) === 'true',
    }
  }

  /**
   * An SSE reader (`live=sse`). `onData` gets each data event's payload and the time its bytes
   * arrived (performance.now(), taken before parsing so client parsing does not count as
   * delivery latency). `ready` resolves on the first control event: the server has registered
   * the reader.
   */
  subscribe(path: string, offset: string, onData: (payload: string, receivedAt: number) => void): SseReader {
    const abort = new AbortController()
    let markReady!: () => void
    let failReady!: (error: unknown) => void
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve
      failReady = reject
    })
    ready.catch(() => {})
    const reader: SseReader = { ready, error: undefined, ended: false, close: () => abort.abort() }
    reader.done = (async () => {
      const res = await request(this.url(path, `offset=${encodeURIComponent(offset)}&live=sse`), {
        dispatcher: agent,
        headers: { 'accept': 'text/event-stream', 'accept-encoding': 'identity' },
        signal: abort.signal,
      })
      if (res.statusCode !== 200) {
        await res.body.dump()
        throw new Error(`SSE ${path}: HTTP ${res.statusCode}`)
      }
      res.body.setEncoding('utf8')
      let buffer = ''
      for await (const chunk of res.body as AsyncIterable<string>) {
        const receivedAt = performance.now()
        buffer += chunk
        if (buffer.includes('\r')) buffer = buffer.replace(/\r\n?/g, '\n')
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim()
            else if (line.startsWith('data:')) data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5))
          }
          if (event === 'control') markReady()
          else if (event === 'data') onData(data.join('\n'), receivedAt)
        }
      }
    })().catch((error: unknown) => {
      if (!abort.signal.aborted) {
        reader.error = error instanceof Error ? error.message : String(error)
        failReady(error)
      }
    }).finally(() => {
      reader.ended = true
      failReady(new Error('SSE connection ended before its first control event'))
    })
    return reader
  }
}

export interface SseReader {
  ready: Promise<void>
  done?: Promise<void>
  error: string | undefined
  ended: boolean
  close: () => void
}
