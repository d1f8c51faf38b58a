import { isJsonContentType, normalizeContentType, sameMediaType } from './content-type'
import { StreamError, badRequest } from './errors'
import { encodeJsonAppend, formatBounds } from './json'
import { formatOffset } from './offsets'
import { decideProducer } from './producers'
import type { ProducerState } from './producers'
import type { AppendState, StoredAppend, StoredStream } from './storage'
import type { AppendOptions, ProducerTuple } from './store'

/**
 * Append planning (PROTOCOL.md §5.2): what one append writes to a stream in a given state, or
 * the answer when it writes nothing. Pure, so every backend obeys the same rules and a batch
 * of appends is planned one after another against the state the previous one left.
 */

/** An append with its JSON body parsed ahead of its transaction (no parsing under a row lock). */
export interface PreparedAppend {
  options: AppendOptions
  /** The body as a JSON append, or why it is not one; only used if the stream is JSON. */
  json?: StoredAppend | StreamError
}

export type AppendDecision =
  /** Nothing to write: a producer's duplicate, or closing a closed stream. */
  | { kind: 'answer', duplicate: boolean, producer?: ProducerState }
  | { kind: 'write', append?: StoredAppend, producer?: ProducerState, next: AppendState }

export function prepareAppend(options: AppendOptions): PreparedAppend {
  if (options.body.length === 0 || !options.contentType || !isJsonContentType(normalizeContentType(options.contentType)))
    return { options }
  try {
    return { options, json: toStoredAppend({ json: true }, options.body, false) }
  }
  catch (error) {
    if (error instanceof StreamError) return { options, json: error }
    throw error
  }
}

/**
 * Validates an append in the order §5.2 prescribes (producer fencing, closure, content type,
 * Stream-Seq, body) against `state`, the stream's state before it; throws the refusals.
 */
export function planAppend(stream: StoredStream, state: AppendState, prepared: PreparedAppend, producerState: ProducerState | undefined): AppendDecision {
  const { options } = prepared
  if (options.ifTailAt !== undefined && options.ifTailAt !== state.tailPos)
    throw new StreamError('tail_moved', `The stream moved on (tail ${state.tailPos}, expected ${options.ifTailAt})`)
  let accepted: ProducerState | undefined
  if (options.producer) {
    const decision = decideProducer(producerState, options.producer)
    if (decision.kind === 'duplicate' && (!state.closed || state.closedBy === closingTuple(options.producer)))
      return { kind: 'answer', duplicate: true, producer: decision.state }
    accepted = decision.state
  }
  const hasBody = options.body.length > 0
  if (state.closed) {
    if (!hasBody && options.close) return { kind: 'answer', duplicate: false }
    throw new StreamError('stream_closed', 'Stream is closed: no further appends are accepted', {
      'Stream-Closed': 'true',
      'Stream-Next-Offset': formatOffset(state.tailPos),
    })
  }
  if (!hasBody && !options.close)
    throw badRequest('Empty body: an append must carry data unless it closes the stream (Stream-Closed: true)')
  if (hasBody) {
    if (!options.contentType) throw badRequest('Content-Type is required when appending data')
    if (!sameMediaType(normalizeContentType(options.contentType), stream.contentType)) {
      throw new StreamError('content_type_conflict',
        `Content-Type ${options.contentType} does not match the stream's ${stream.contentType}`)
    }
  }
  if (options.streamSeq !== undefined && state.lastStreamSeq !== null
    && Buffer.compare(Buffer.from(options.streamSeq), Buffer.from(state.lastStreamSeq)) <= 0) {
    throw new StreamError('seq_conflict',
      `Stream-Seq ${JSON.stringify(options.streamSeq)} is not greater than the last (${JSON.stringify(state.lastStreamSeq)})`)
  }
  const append = hasBody ? storedBody(stream, prepared) : undefined
  return {
    kind: 'write',
    append,
    producer: accepted,
    next: {
      tailPos: state.tailPos + (append?.size ?? 0),
      closed: options.close,
      closedBy: options.close && options.producer ? closingTuple(options.producer) : null,
      lastStreamSeq: options.streamSeq ?? state.lastStreamSeq,
    },
  }
}

/**
 * A body as stored in a stream: the bytes of a byte stream; a JSON stream's messages flattened
 * one array level and comma-joined, with their bounds. An empty JSON array is allowed only
 * when `allowEmptyArray` (a PUT's initial body) and then stores nothing.
 */
export function toStoredAppend(stream: { json: boolean }, body: Buffer, allowEmptyArray: boolean): StoredAppend | undefined {
  if (body.length === 0) return undefined
  if (!stream.json) return { data: body, bounds: null, size: body.length }
  const encoded = encodeJsonAppend(body, allowEmptyArray)
  return encoded && { data: encoded.data, bounds: formatBounds(encoded.ends), size: encoded.count }
}

function storedBody(stream: StoredStream, prepared: PreparedAppend): StoredAppend | undefined {
  if (!stream.json) return toStoredAppend(stream, prepared.options.body, false)
  if (prepared.json instanceof StreamError) throw prepared.json
  return prepared.json ?? toStoredAppend(stream, prepared.options.body, false)
}

/** The producer tuple kept on a stream its append closed: only that very retry is a duplicate. */
function closingTuple(producer: ProducerTuple): string {
  return JSON.stringify([producer.id, producer.epoch, producer.seq])
}
