/**
 * Stream offsets are opaque, but the protocol guarantees they sort lexicographically in stream
 * order; `-1` (start of stream) is the one sentinel a client keeps, and it sorts before all.
 */
export const STREAM_START_OFFSET = '-1'

/** Negative when `a` comes before `b`, zero when equal, positive after. */
export function compareOffsets(a: string, b: string): number {
  if (a === b) return 0
  if (a === STREAM_START_OFFSET) return -1
  if (b === STREAM_START_OFFSET) return 1
  return a < b ? -1 : 1
}

/** How a batch `[from, to)` relates to what a consumer has applied up to `applied`. */
export type BatchFit = 'next' | 'duplicate' | 'gap'

/**
 * `next`: the batch starts exactly where the consumer stands, apply it. `duplicate`: everything
 * in it was applied already. `gap`: it starts after (missing events) or overlaps partially (a
 * batch cannot be split, offsets being opaque) — the reader must restart from `applied`.
 * A consumer that asked for `now` accepts the first batch, which starts at `now` too.
 */
export function fitBatch(applied: string, from: string, to: string): BatchFit {
  if (from === applied) return 'next'
  return compareOffsets(to, applied) <= 0 ? 'duplicate' : 'gap'
}
