import { isUtf8 } from 'node:buffer'
import { badRequest } from './errors'

const WHITESPACE = new Set([' ', '\t', '\n', '\r'])

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
  const text = body.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  }
  catch (error) {
    const reason = error instanceof RangeError ? 'nested too deeply' : (error as Error).message
    throw badRequest(`Body is not valid JSON: ${reason}`)
  }
  if (!Array.isArray(value)) return joinMessages([trimJsonWhitespace(text)])
  if (value.length === 0) {
    if (allowEmpty) return undefined
    throw badRequest('Empty JSON array: an append must carry at least one message')
  }
  return joinMessages(topLevelElements(text))
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

function joinMessages(elements: string[]): JsonAppend {
  const ends: number[] = []
  let length = 0
  for (let i = 0; i < elements.length - 1; i++) {
    length += Buffer.byteLength(elements[i]!)
    ends.push(length)
    length += 1
  }
  return { data: Buffer.from(elements.join(',')), ends, count: elements.length }
}

/** Slices the elements of a JSON array text that JSON.parse has already accepted. */
function topLevelElements(text: string): string[] {
  const elements: string[] = []
  let depth = 0
  let inString = false
  let elementStart = -1
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (inString) {
      if (char === '\\') i++
      else if (char === '"') inString = false
      continue
    }
    if (char === '"') {
      inString = true
    }
    else if (char === '[' || char === '{') {
      depth++
      if (depth === 1) elementStart = i + 1
    }
    else if (char === ']' || char === '}') {
      if (depth === 1) elements.push(text.slice(elementStart, i))
      depth--
    }
    else if (char === ',' && depth === 1) {
      elements.push(text.slice(elementStart, i))
      elementStart = i + 1
    }
  }
  return elements.map(trimJsonWhitespace)
}

function trimJsonWhitespace(element: string): string {
  let start = 0
  let end = element.length
  while (start < end && WHITESPACE.has(element[start]!)) start++
  while (end > start && WHITESPACE.has(element[end - 1]!)) end--
  return element.slice(start, end)
}
