import type { IncomingHttpHeaders } from 'node:http'
import { badRequest } from './errors'
import { STREAM_NOW, STREAM_START, parseOffset } from './offsets'
import type { ForkRequest, ProducerTuple, ReadFrom } from './store'

/** Parsing of the protocol's request headers and query; every malformed value is a 400. */

const NON_NEGATIVE_INTEGER = /^(0|[1-9]\d*)$/
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

function nonNegativeInteger(value: string, name: string): number {
  const number = Number(value)
  if (!NON_NEGATIVE_INTEGER.test(value) || !Number.isSafeInteger(number))
    throw badRequest(`${name} must be a non-negative integer without sign, leading zeros or decimals (got ${JSON.stringify(value)})`)
  return number
}

/** Stream-Closed counts only when its value is `true`, in any case (§4.1); other values are ignored. */
export function wantsClose(headers: IncomingHttpHeaders): boolean {
  return header(headers, 'stream-closed')?.trim().toLowerCase() === 'true'
}

export function parseExpiry(headers: IncomingHttpHeaders): { ttlSeconds?: number, expiresAt?: number } {
  const ttl = header(headers, 'stream-ttl')
  const expires = header(headers, 'stream-expires-at')
  if (ttl !== undefined && expires !== undefined)
    throw badRequest('Send either Stream-TTL or Stream-Expires-At, not both')
  if (ttl !== undefined) return { ttlSeconds: nonNegativeInteger(ttl.trim(), 'Stream-TTL') }
  if (expires !== undefined) {
    const time = Date.parse(expires.trim())
    if (!RFC3339.test(expires.trim()) || Number.isNaN(time))
      throw badRequest(`Stream-Expires-At must be an RFC 3339 timestamp (got ${JSON.stringify(expires)})`)
    return { expiresAt: time }
  }
  return {}
}

export function parseProducer(headers: IncomingHttpHeaders): ProducerTuple | undefined {
  const id = header(headers, 'producer-id')
  const epoch = header(headers, 'producer-epoch')
  const seq = header(headers, 'producer-seq')
  if (id === undefined && epoch === undefined && seq === undefined) return undefined
  if (id === undefined || epoch === undefined || seq === undefined)
    throw badRequest('Producer-Id, Producer-Epoch and Producer-Seq must be sent together')
  if (id.trim() === '') throw badRequest('Producer-Id must not be empty')
  return { id, epoch: nonNegativeInteger(epoch.trim(), 'Producer-Epoch'), seq: nonNegativeInteger(seq.trim(), 'Producer-Seq') }
}

export function parseStreamSeq(headers: IncomingHttpHeaders): string | undefined {
  const seq = header(headers, 'stream-seq')
  if (seq === '') throw badRequest('Stream-Seq must not be empty')
  return seq
}

/**
 * Fork headers of a PUT. `Stream-Forked-From` is the source's URL path; `toStreamPath` maps it
 * onto a stream path of this server (or throws when it points elsewhere).
 */
export function parseFork(headers: IncomingHttpHeaders, toStreamPath: (urlPath: string) => string): ForkRequest | undefined {
  const from = header(headers, 'stream-forked-from')
  const offset = header(headers, 'stream-fork-offset')
  const subOffset = header(headers, 'stream-fork-sub-offset')
  if (from === undefined) {
    if (offset !== undefined || subOffset !== undefined)
      throw badRequest('Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From')
    return undefined
  }
  let position: number | undefined
  if (offset !== undefined) {
    position = parseOffset(offset.trim())
    if (position === undefined) throw badRequest(`Stream-Fork-Offset is not an offset of this server (got ${JSON.stringify(offset)})`)
  }
  return {
    sourcePath: toStreamPath(from.trim()),
    position,
    subOffset: subOffset === undefined ? 0 : nonNegativeInteger(subOffset.trim(), 'Stream-Fork-Sub-Offset'),
  }
}

export type LiveMode = 'long-poll' | 'sse' | undefined

export interface ReadQuery {
  from: ReadFrom
  offsetGiven: boolean
  live: LiveMode
  cursor?: string
}

export function parseReadQuery(search: URLSearchParams): ReadQuery {
  const offsets = search.getAll('offset')
  if (offsets.length > 1) throw badRequest('Send one offset parameter, not several')
  const live = search.get('live') ?? undefined
  if (live !== undefined && live !== 'long-poll' && live !== 'sse')
    throw badRequest(`live must be long-poll or sse (got ${JSON.stringify(live)})`)
  const [offset] = offsets
  if (live && offset === undefined) throw badRequest(`live=${live} needs an offset parameter`)
  return { from: parseReadFrom(offset), offsetGiven: offset !== undefined, live, cursor: search.get('cursor') ?? undefined }
}

function parseReadFrom(offset: string | undefined): ReadFrom {
  if (offset === undefined || offset === STREAM_START) return { kind: 'start' }
  if (offset === STREAM_NOW) return { kind: 'now' }
  const position = parseOffset(offset)
  if (position === undefined) throw badRequest(`Invalid offset ${JSON.stringify(offset)}: use -1, now, or an offset this server returned`)
  return { kind: 'position', position }
}
