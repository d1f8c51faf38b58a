import { StreamError, badRequest } from './errors'
import type { ProducerTuple } from './store'

export interface ProducerState {
  epoch: number
  lastSeq: number
}

export type ProducerDecision =
  | { kind: 'accept', state: ProducerState }
  | { kind: 'duplicate', state: ProducerState }

/**
 * Kafka-style fencing (PROTOCOL.md §5.2.1): stale epochs are refused, a new epoch starts at 0,
 * a replayed sequence is a duplicate, a skipped one is a gap. Throws for the refusals.
 */
export function decideProducer(current: ProducerState | undefined, request: ProducerTuple): ProducerDecision {
  const accepted = { epoch: request.epoch, lastSeq: request.seq }
  if (!current || request.epoch > current.epoch) {
    if (request.seq !== 0) {
      if (!current) throw sequenceGap(0, request.seq)
      throw badRequest(`Producer-Seq must be 0 when starting epoch ${request.epoch} (got ${request.seq})`)
    }
    return { kind: 'accept', state: accepted }
  }
  if (request.epoch < current.epoch) {
    throw new StreamError('producer_stale_epoch',
      `Producer epoch ${request.epoch} is stale: the producer is fenced at epoch ${current.epoch}`,
      { 'Producer-Epoch': String(current.epoch) })
  }
  if (request.seq <= current.lastSeq) return { kind: 'duplicate', state: current }
  if (request.seq === current.lastSeq + 1) return { kind: 'accept', state: accepted }
  throw sequenceGap(current.lastSeq + 1, request.seq)
}

function sequenceGap(expected: number, received: number): StreamError {
  return new StreamError('producer_seq_gap',
    `Producer sequence gap: expected ${expected}, received ${received}`,
    { 'Producer-Expected-Seq': String(expected), 'Producer-Received-Seq': String(received) })
}
