/**
 * Domain errors of the stream engine. Each carries a code that server/errors.ts maps to a status
 * in one table, and the protocol headers the client needs to recover (next offset, producer state).
 */
export type StreamErrorCode =
  | 'bad_request'
  | 'not_found'
  | 'gone'
  | 'offset_gone'
  | 'config_conflict'
  | 'stream_closed'
  | 'content_type_conflict'
  | 'seq_conflict'
  | 'producer_stale_epoch'
  | 'producer_seq_gap'
  | 'payload_too_large'
  | 'unauthorized'
  | 'rate_limited'
  | 'unavailable'
  /** An append made with `ifTailAt` found the stream moved on: decide again and retry. */
  | 'tail_moved'

export class StreamError extends Error {
  constructor(
    readonly code: StreamErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'StreamError'
  }
}

export function badRequest(message: string): StreamError {
  return new StreamError('bad_request', message)
}
