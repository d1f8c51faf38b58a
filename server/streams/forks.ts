import { DEFAULT_CONTENT_TYPE, normalizeContentType, sameMediaType } from './content-type'
import { StreamError, badRequest } from './errors'
import { formatOffset } from './offsets'
import type { RemovalPlan, StoredStream } from './storage'
import type { CreateStreamOptions, ForkRequest } from './store'

/**
 * Forks (PROTOCOL.md §4.2) and the rules they bring to create and delete: where a fork may
 * diverge, what it inherits, when a repeated PUT is the same stream, which positions are read
 * from which ancestor, and what deleting a stream with forks does. Pure: the protocol store
 * passes in the rows.
 */

/** A range of logical positions served from one stream's own rows. */
export interface Segment {
  streamId: number
  from: number
  to: number
}

type Expiry = Pick<StoredStream, 'ttlSeconds' | 'expiresAt'>

/**
 * The fork's divergence position, checked against its source: within the source's tail, and a
 * sub-offset within the append after it (`boundary`: that append's end, if any data follows).
 */
export function forkPosition(source: StoredStream, request: ForkRequest, contentType: string | undefined, boundary: number | undefined): number {
  if (contentType !== undefined && !sameMediaType(normalizeContentType(contentType), source.contentType)) {
    throw new StreamError('content_type_conflict',
      `A fork keeps its source's content type (${source.contentType}), not ${contentType}`)
  }
  const anchor = forkAnchor(source, request)
  if (anchor > source.tailPos) throw badRequest('Stream-Fork-Offset is beyond the source stream\'s tail')
  if (request.subOffset > 0 && (boundary === undefined || anchor + request.subOffset > boundary))
    throw badRequest('Stream-Fork-Sub-Offset reaches past the next append of the source stream')
  return anchor + request.subOffset
}

export function forkAnchor(source: StoredStream, request: ForkRequest): number {
  return request.position ?? source.tailPos
}

/** A fork's own TTL or expiry wins; otherwise it inherits the source's. */
export function forkExpiry(source: Expiry, options: Pick<CreateStreamOptions, 'ttlSeconds' | 'expiresAt'>): Expiry {
  if (options.ttlSeconds !== undefined) return { ttlSeconds: options.ttlSeconds, expiresAt: null }
  if (options.expiresAt !== undefined) return { ttlSeconds: null, expiresAt: options.expiresAt }
  return { ttlSeconds: source.ttlSeconds, expiresAt: source.expiresAt }
}

/** Fork source errors as a PUT answers them: 404 for none, 409 for a deleted one. */
export function forkSourceError(sourcePath: string, error: unknown): unknown {
  if (error instanceof StreamError && error.code === 'not_found')
    return new StreamError('not_found', `Fork source ${sourcePath} does not exist`)
  if (error instanceof StreamError && error.code === 'gone')
    return new StreamError('config_conflict', `Fork source ${sourcePath} has been deleted`)
  return error
}

/**
 * A PUT on an existing path is idempotent only with the same configuration (409 otherwise).
 * `source` is the fork's source row, if it still exists.
 */
export function assertSameConfig(existing: StoredStream, options: CreateStreamOptions, source: StoredStream | undefined): void {
  const request = options.fork
  const mismatch = (what: string) =>
    new StreamError('config_conflict', `A stream already exists at this path with a different ${what}`)
  if (Boolean(request) !== (existing.forkedFromId !== null)) throw mismatch('fork source')
  let expected: Expiry
  if (request) {
    if (request.sourcePath !== existing.forkedFromPath) throw mismatch('fork source')
    const requestedOffset = request.position === undefined ? null : formatOffset(request.position)
    if (requestedOffset !== existing.forkRequestedOffset || request.subOffset !== existing.forkSubOffset)
      throw mismatch('fork offset')
    expected = source ? forkExpiry(source, options) : { ttlSeconds: options.ttlSeconds ?? null, expiresAt: options.expiresAt ?? null }
  }
  else {
    expected = { ttlSeconds: options.ttlSeconds ?? null, expiresAt: options.expiresAt ?? null }
  }
  const contentType = options.contentType ?? (request ? existing.contentType : DEFAULT_CONTENT_TYPE)
  if (!sameMediaType(normalizeContentType(contentType), existing.contentType)) throw mismatch('content type')
  if (expected.ttlSeconds !== existing.ttlSeconds || expected.expiresAt !== existing.expiresAt)
    throw mismatch('TTL or expiry')
  if (options.closed !== existing.closed) throw mismatch('closure status')
}

/**
 * Where each position of a stream is read from: its ancestors' segments below its divergence
 * position, its own rows from there. `sourceSegments` are the source's, when it still exists.
 */
export function segmentsOf(stream: StoredStream, sourceSegments: Segment[] | undefined): Segment[] {
  const own: Segment = { streamId: stream.id, from: stream.forkPos ?? 0, to: Number.POSITIVE_INFINITY }
  if (stream.forkedFromId === null || !sourceSegments) return [own]
  const inherited = sourceSegments
    .map(segment => ({ ...segment, to: Math.min(segment.to, stream.forkPos!) }))
    .filter(segment => segment.from < segment.to)
  return [...inherited, own]
}

/**
 * Deleting `chain[0]` (its ancestors follow, nearest first): a stream forks still read is only
 * hidden; otherwise it goes, and so does each soft-deleted source it was the last fork of;
 * the first source that stays loses one fork.
 */
export function planRemoval(chain: StoredStream[]): RemovalPlan {
  const [stream] = chain
  if (stream!.refCount > 0) return { kind: 'soft', id: stream!.id }
  const ids = [stream!.id]
  for (const source of chain.slice(1)) {
    if (!(source.softDeleted && source.refCount === 1)) return { kind: 'delete', ids, release: source.id }
    ids.push(source.id)
  }
  return { kind: 'delete', ids }
}
