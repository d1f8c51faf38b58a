import { createServer, request as httpRequest } from 'node:http'
import type { Agent, IncomingHttpHeaders, Server } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'

/**
 * HTTP below fetch, for what fetch cannot do: choose the client's source address (per-client
 * rate limits), send a path exactly as given (`..` and `%2F` are not normalised away), stream a
 * request body slowly, or — with `rawExchange` — send bytes that are not valid HTTP at all.
 */

export interface NodeResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface NodeRequest {
  method?: string
  headers?: Record<string, string>
  /** Sent with Content-Length; for a slow or chunked body use `openRequest`. */
  body?: string | Buffer
  /** Source address of the connection, e.g. 127.0.0.2: another client, as far as the server knows. */
  localAddress?: string
  agent?: Agent | false
}

/** One request to `base` + `path` (path sent verbatim), body read to the end. */
export function nodeRequest(base: string, path: string, init: NodeRequest = {}): Promise<NodeResponse> {
  const pending = openRequest(base, path, init)
  pending.request.end(init.body)
  return pending.response
}

/**
 * A request whose body the caller writes (`request.write`, then `request.end`), so it can be
 * in flight for as long as the test wants. Without a body length the body is sent chunked.
 */
export function openRequest(base: string, path: string, init: NodeRequest = {}) {
  const url = new URL(base)
  const headers: Record<string, string> = { ...init.headers }
  if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body))
  let request!: ReturnType<typeof httpRequest>
  const response = new Promise<NodeResponse>((resolve, reject) => {
    request = httpRequest({
      host: url.hostname,
      port: url.port,
      path,
      method: init.method ?? 'GET',
      headers,
      localAddress: init.localAddress,
      agent: init.agent ?? false,
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    request.on('error', reject)
  })
  return { request, response }
}

/** A request to send as raw bytes with `encodeRequest`: nothing is normalised or checked. */
export interface RawRequest {
  method: string
  /** Sent verbatim on the request line. */
  path: string
  headers: Record<string, string>
  body: Buffer
  /** Send the body chunked instead of with Content-Length. */
  chunked: boolean
  /** Ask the server to close the connection after its answer (`Connection: close`); default true. */
  close?: boolean
}

/**
 * The bytes of one HTTP/1.1 request to `base`. Header values lose their line breaks (a header
 * cannot smuggle a second one), but are otherwise sent as given, even where they contradict the
 * framing this adds (a fuzzed Content-Length next to Transfer-Encoding: chunked).
 */
export function encodeRequest(base: string, request: RawRequest): Buffer {
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `Host: ${new URL(base).host}`]
  if (request.close !== false) lines.push('Connection: close')
  for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value.replace(/[\r\n]/g, ' ')}`)
  if (request.chunked) lines.push('Transfer-Encoding: chunked')
  else if (request.body.length > 0 || ['POST', 'PUT'].includes(request.method)) lines.push(`Content-Length: ${request.body.length}`)
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8')
  if (!request.chunked) return Buffer.concat([head, request.body])
  const parts = request.body.length > 0 ? [Buffer.from(`${request.body.length.toString(16)}\r\n`), request.body, Buffer.from('\r\n')] : []
  return Buffer.concat([head, ...parts, Buffer.from('0\r\n\r\n')])
}

let parserProbe: Promise<{ server: Server, port: number, outcomes: Map<number, (valid: boolean) => void> }> | undefined

/**
 * Whether Node's HTTP parser — the server's own — takes `bytes` as well-framed requests, each
 * read to its end: they go to a throwaway server in this process that reads every body and
 * notes any parse error. A request the parser refuses (Content-Length next to
 * Transfer-Encoding, a bad chunk size, …) may be answered with a bare 400 or a hung-up
 * connection before the application sees it; every other request must get the application's answer.
 */
export async function framingIsValid(bytes: Buffer): Promise<boolean> {
  parserProbe ??= new Promise((resolve) => {
    const outcomes = new Map<number, (valid: boolean) => void>()
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => res.end())
    })
    const verdicts = new WeakMap<Socket, { requests: number, complete: number, refused: boolean }>()
    server.on('connection', (socket) => {
      const verdict = { requests: 0, complete: 0, refused: false }
      verdicts.set(socket, verdict)
      const port = socket.remotePort!
      socket.on('close', () => outcomes.get(port)?.(!verdict.refused && verdict.requests > 0 && verdict.complete === verdict.requests))
    })
    server.on('request', (req) => {
      const verdict = verdicts.get(req.socket)!
      verdict.requests++
      req.on('end', () => verdict.complete++)
    })
    server.on('clientError', (_error, socket: Socket) => {
      verdicts.get(socket)!.refused = true
      socket.destroy()
    })
    server.unref()
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, outcomes }))
  })
  const { port, outcomes } = await parserProbe
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('connect', () => {
      const local = socket.localPort!
      outcomes.set(local, (valid) => {
        outcomes.delete(local)
        resolve(valid)
      })
      socket.end(bytes)
    })
    socket.on('error', () => {})
    socket.resume()
  })
}

export interface RawExchange {
  /** 0 when the server closed the connection without an answer. */
  status: number
  /** Lower-cased header names; repeated headers joined with ", ". */
  headers: Record<string, string>
  /** The response head as text (status line and headers), for messages. */
  head: string
}

/**
 * Sends `bytes` on a fresh connection and resolves with the response head as soon as it is
 * complete — the body is not waited for, so live reads (SSE) and large bodies cost nothing.
 * The connection is then dropped. Status 0: the server hung up without answering.
 */
export interface RawExchangeOptions {
  /** Half-close after sending: "that was all" (see below). */
  halfClose?: boolean
  /**
   * Send the bytes in pieces of this size, one per turn of the event loop, as a client whose
   * upload is still under way when the answer comes; writing stops once the answer is in.
   */
  pieceBytes?: number
}

export function rawExchange(base: string, bytes: Buffer, timeoutMs = 10_000, options: RawExchangeOptions = {}): Promise<RawExchange> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) })
    let received = Buffer.alloc(0)
    let settled = false
    const finish = (error?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error) return reject(error)
      const end = received.indexOf('\r\n\r\n')
      const head = (end === -1 ? received : received.subarray(0, end)).toString('latin1')
      const [statusLine = '', ...lines] = head.split('\r\n')
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0)
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        if (colon <= 0) continue
        const name = line.slice(0, colon).trim().toLowerCase()
        const value = line.slice(colon + 1).trim()
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
      }
      resolve({ status, headers, head })
    }
    const timer = setTimeout(() => finish(new Error(`No response head within ${timeoutMs} ms`)), timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.includes('\r\n\r\n')) finish()
    })
    // A refused connection means the server is down: an error. A reset is an answer of sorts —
    // after a response head (the server dropped a connection whose oversized body it stopped
    // reading) or without one (status 0, for the caller to judge).
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code === 'ECONNREFUSED' ? error : undefined))
    socket.on('end', () => finish())
    socket.on('close', () => finish())
    // Half-closing says "that was all": a server waiting for the rest of an incomplete request
    // then answers (or hangs up) instead of waiting for its header timeout.
    if (options.halfClose) socket.end(bytes)
    else if (options.pieceBytes === undefined) socket.write(bytes)
    else {
      const pieceBytes = options.pieceBytes
      let sent = 0
      const sendPiece = () => {
        if (settled || sent >= bytes.length) return
        socket.write(bytes.subarray(sent, sent + pieceBytes))
        sent += pieceBytes
        setImmediate(sendPiece)
      }
      socket.once('connect', sendPiece)
    }
  })
}
