import type { IncomingMessage } from 'node:http'
import { StreamError } from './errors'

/** Past this, an oversized body is no longer drained politely: the connection is dropped. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024

/**
 * Reads a request body up to `limit` bytes. A larger body answers 413 after the rest is
 * drained, so the client reads the status instead of a reset connection.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  // An in-process request (Nitro's localFetch, which the demo agent uses) carries its body
  // instead of streaming it: its mock request cannot be iterated.
  const carried = (req as { body?: unknown }).body
  if (typeof carried === 'string' || carried instanceof Uint8Array) {
    const body = Buffer.from(carried)
    if (body.length > limit) throw new StreamError('payload_too_large', `Body exceeds the ${limit}-byte limit of one append`)
    return body
  }
  const declared = Number(req.headers['content-length'] ?? Number.NaN)
  let overflow = declared > limit
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > limit) overflow = true
    if (overflow) {
      if (total > MAX_DRAIN_BYTES) {
        req.socket.destroy()
        break
      }
      continue
    }
    chunks.push(chunk)
  }
  if (overflow) throw new StreamError('payload_too_large', `Body exceeds the ${limit}-byte limit of one append`)
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)
}
