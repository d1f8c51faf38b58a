import type { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { StreamError, badRequest } from './errors'

/**
 * Request bodies: read with a limit, and never answered while still arriving.
 *
 * A server that answers and closes the connection while the client is still uploading resets
 * it (the unread bytes make the kernel send RST), and the client sees a broken pipe instead of
 * the 401 or 413 that tells it what to fix. So a request answered before its body was read has
 * the rest of its body read and discarded first — up to `drainBytes`, keeping the connection
 * reusable — and a longer one is answered at once with `Connection: close`, then read and
 * discarded until it ends or LINGER_MS have passed (nginx's lingering close) before closing.
 */

/** The longest a connection is kept reading a refused body after its answer (nginx: lingering_time). */
const LINGER_MS = 30_000

type EndCallback = () => void

/**
 * Reads a request body up to `limit` bytes. A larger one, declared or found while reading, is
 * a 413 and is not read further: answering it discards the rest (see `answerAfterBody`). A body
 * cut short (the client left, or sent broken chunks) is the client's problem, a 400.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new StreamError('payload_too_large', `Body exceeds the ${limit}-byte limit of one append`)
  // An in-process request (Nitro's localFetch, which the demo agent uses) carries its body
  // instead of streaming it: its mock request cannot be read as a stream.
  const carried = (req as { body?: unknown }).body
  if (typeof carried === 'string' || carried instanceof Uint8Array) {
    const body = Buffer.from(carried)
    return body.length > limit ? Promise.reject(tooLarge()) : Promise.resolve(body)
  }
  if (Number(req.headers['content-length']) > limit) return Promise.reject(tooLarge())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    const stop = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onCut)
      req.off('close', onCut)
    }
    const onData = (chunk: Buffer) => {
      total += chunk.length
      if (total <= limit) return void chunks.push(chunk)
      stop()
      req.pause()
      reject(tooLarge())
    }
    const onEnd = () => {
      stop()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total))
    }
    const onCut = () => {
      stop()
      reject(badRequest('The request body did not arrive completely'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onCut)
    req.on('close', onCut)
  })
}

/**
 * Makes `res.end()` wait until the request body is in, whoever answers (a refusal before the
 * body was read, a handler that never reads one): see the top of this file.
 */
export function answerAfterBody(req: IncomingMessage, res: ServerResponse, drainBytes: number): void {
  if (!hasBody(req) || !(req.socket instanceof Socket)) return
  const end = res.end
  let deferred = false
  res.end = function (this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) {
    if (deferred) return this
    if (typeof chunk === 'function') [chunk, callback] = [undefined, chunk]
    if (typeof encoding === 'function') [encoding, callback] = [undefined, encoding]
    const finish = () => {
      res.end = end
      end.call(this, chunk, encoding as BufferEncoding, callback as EndCallback | undefined)
    }
    if (req.complete || req.destroyed) {
      finish()
      return this
    }
    deferred = true
    const declared = Number(req.headers['content-length'])
    const drained = declared > drainBytes ? Promise.resolve(false) : discard(req, drainBytes)
    void drained.then((complete) => {
      if (complete) return finish()
      answerNow(res, chunk as string | Buffer | undefined, encoding as BufferEncoding | undefined)
      chunk = undefined
      void discard(req, Number.POSITIVE_INFINITY, LINGER_MS).then((ended) => {
        finish()
        if (!ended) req.socket.destroy()
      })
    })
    return this
  } as typeof res.end
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0
}

/**
 * Reads and drops the rest of a body: true once it has ended (or the client is gone), false if
 * more than `maxBytes` arrived or `timeoutMs` passed first (reading then pauses).
 */
function discard(req: IncomingMessage, maxBytes: number, timeoutMs?: number): Promise<boolean> {
  if (req.complete || req.destroyed) return Promise.resolve(true)
  return new Promise((resolve) => {
    let total = 0
    const settle = (complete: boolean) => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onDone)
      req.off('close', onDone)
      req.off('error', onDone)
      if (!complete) req.pause()
      resolve(complete)
    }
    const onData = (chunk: Buffer) => {
      total += chunk.length
      if (total > maxBytes) settle(false)
    }
    const onDone = () => settle(true)
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => settle(false), timeoutMs)
    req.on('data', onData)
    req.on('end', onDone)
    req.on('close', onDone)
    req.on('error', onDone)
    req.resume()
  })
}

/**
 * Sends the answer before the body has been read, framed so the client knows where it ends
 * without waiting for the connection to close, and asks the client to close afterwards.
 */
function answerNow(res: ServerResponse, chunk: string | Buffer | undefined, encoding: BufferEncoding | undefined): void {
  if (!res.headersSent) {
    res.setHeader('connection', 'close')
    const bodyless = res.statusCode === 204 || res.statusCode === 304 || res.req.method === 'HEAD'
    if (!bodyless && !res.hasHeader('content-length') && !res.hasHeader('transfer-encoding'))
      res.setHeader('content-length', chunk === undefined ? 0 : Buffer.byteLength(chunk, encoding))
  }
  if (chunk === undefined) res.flushHeaders()
  else res.write(chunk, encoding as BufferEncoding)
}
