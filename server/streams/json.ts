import { isUtf8 } from 'node:buffer'
import { badRequest } from './errors'

/**
 * The messages of one JSON append as stored: their UTF-8 source texts joined by commas (the
 * inside of a JSON array) and the byte offset where each message but the last ends.
 */
export interface JsonAppend {
  data: Buffer
  /** End offset in `data` of every message but the last; empty for a single message. */
  ends: number[]
  count: number
}

/**
 * JSON mode (PROTOCOL.md §9.1): validates a body and flattens one level of array. Each element
 * keeps its exact source text, so numbers beyond 2^53 and key order survive. An empty array is
 * allowed only when `allowEmpty` (PUT), and then yields no append at all.
 */
export function encodeJsonAppend(body: Buffer, allowEmpty: boolean): JsonAppend | undefined {
  if (!isUtf8(body)) throw badRequest('Body is not valid UTF-8 JSON')
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  }
  catch (error) {
    const reason = error instanceof RangeError ? 'nested too deeply' : (error as Error).message
    throw badRequest(`Body is not valid JSON: ${reason}`)
  }
  if (!Array.isArray(value)) return joinMessages(body, [trimJsonWhitespace(body, 0, body.length)])
  if (value.length === 0) {
    if (allowEmpty) return undefined
    throw badRequest('Empty JSON array: an append must carry at least one message')
  }
  return joinMessages(body, topLevelElements(body))
}

/** The messages of a stored JSON append from `from` to `to` (message indices), comma-joined. */
export function sliceJsonAppend<T extends Buffer | string>(data: T, ends: number[], from: number, to: number): T {
  const start = from === 0 ? 0 : ends[from - 1]! + 1
  const stop = to > ends.length ? data.length : ends[to - 1]!
  return (typeof data === 'string' ? data.slice(start, stop) : data.subarray(start, stop)) as T
}

/** Message end offsets as kept in the `bounds` column. */
export function parseBounds(bounds: string | null): number[] {
  return bounds ? bounds.split(',').map(Number) : []
}

export function formatBounds(ends: number[]): string | null {
  return ends.length > 0 ? ends.join(',') : null
}

/** Every message of a read or a change: JSON chunks are comma-joined messages. */
export function parseJsonChunks(chunks: Array<string | Buffer>): unknown[] {
  return JSON.parse(`[${chunks.join(',')}]`) as unknown[]
}

const OPEN_BRACKET = Buffer.from('[')
const CLOSE_BRACKET = Buffer.from(']')
const COMMA = Buffer.from(',')

/** JSON chunks as one JSON array (§9.1), in a single copy. */
export function jsonArrayBody(chunks: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [OPEN_BRACKET]
  chunks.forEach((chunk, index) => {
    if (index > 0) parts.push(COMMA)
    parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  })
  parts.push(CLOSE_BRACKET)
  return Buffer.concat(parts)
}

/** The bytes of JSON's structural characters. */
const QUOTE = 0x22
const BACKSLASH = 0x5C
const COMMA_BYTE = 0x2C
const OPEN_ARRAY = 0x5B
const OPEN_OBJECT = 0x7B
const CLOSE_ARRAY = 0x5D
const CLOSE_OBJECT = 0x7D

/** Where one message's source bytes start and end in a body. */
type ByteRange = [start: number, end: number]

/**
 * The messages' bytes comma-joined, in one copy. A body written without whitespace between its
 * elements (JSON.stringify's) already holds them joined: its inside is copied as it is.
 */
function joinMessages(body: Buffer, elements: ByteRange[]): JsonAppend {
  const ends: number[] = []
  // The joined length so far: each message after the first adds its comma too.
  let length = -1
  for (const [start, end] of elements) {
    length += 1 + end - start
    ends.push(length)
  }
  // The last message ends where the data does.
  ends.pop()
  const first = elements[0]!
  const last = elements.at(-1)!
  if (last[1] - first[0] === length) return { data: Buffer.from(body.subarray(first[0], last[1])), ends, count: elements.length }
  const data = Buffer.allocUnsafe(length)
  let at = 0
  for (const [start, end] of elements) {
    if (at > 0) data[at++] = COMMA_BYTE
    at += body.copy(data, at, start, end)
  }
  return { data, ends, count: elements.length }
}

/**
 * The byte ranges of the elements of a JSON array body that JSON.parse has already accepted, in
 * one pass. Bytes of multi-byte UTF-8 characters are all ≥ 0x80, so they never look like JSON's
 * structural characters.
 */
function topLevelElements(body: Buffer): ByteRange[] {
  const elements: ByteRange[] = []
  let depth = 0
  let inString = false
  let elementStart = -1
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!
    if (inString) {
      if (byte === BACKSLASH) i++
      else if (byte === QUOTE) inString = false
      continue
    }
    if (byte === QUOTE) {
      inString = true
    }
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      depth++
      if (depth === 1) elementStart = i + 1
    }
    else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      if (depth === 1) elements.push(trimJsonWhitespace(body, elementStart, i))
      depth--
    }
    else if (byte === COMMA_BYTE && depth === 1) {
      elements.push(trimJsonWhitespace(body, elementStart, i))
      elementStart = i + 1
    }
  }
  return elements
}

function trimJsonWhitespace(body: Buffer, start: number, end: number): ByteRange {
  while (start < end && isJsonWhitespace(body[start]!)) start++
  while (end > start && isJsonWhitespace(body[end - 1]!)) end--
  return [start, end]
}

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0A || byte === 0x0D
}
