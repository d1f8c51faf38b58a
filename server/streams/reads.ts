import { isTextContentType } from './content-type'
import { StreamError, badRequest } from './errors'
import type { Segment } from './forks'
import { parseBounds, sliceJsonAppend } from './json'
import { formatOffset } from './offsets'
import type { DataRow, StoredStream } from './storage'
import type { ReadFrom, ReadOptions, ReadResult, StreamChunk } from './store'

/**
 * Reads (PROTOCOL.md §5.6): where a read starts, and which pieces of which rows a page holds
 * within its byte budget — whole JSON messages only, byte streams cut anywhere (text at a
 * character boundary, when allowed). Pure but for `fetchRows`, the backend's query.
 */

const ROWS_PER_QUERY = 512

export type FetchRows = (streamId: number, from: number, to: number, limit: number) => Promise<DataRow[]>

/** The position a read starts at: 410 before the retained head, 400 past the tail. */
export function resolvePosition(stream: StoredStream, from: ReadFrom): number {
  const head = stream.forkedFromId === null ? stream.headPos : 0
  if (from.kind === 'start') return head
  if (from.kind === 'now') return stream.tailPos
  if (from.position > stream.tailPos) throw badRequest('Offset is beyond the end of the stream')
  if (from.position < head) {
    throw new StreamError('offset_gone', 'Offset is before the earliest retained data of this stream', {
      'Stream-Next-Offset': formatOffset(head),
    })
  }
  return from.position
}

/** Reads from `fromPos` across the fork chain's segments, up to the byte budget. */
export async function collect(stream: StoredStream, segments: Segment[], fromPos: number, options: ReadOptions, fetchRows: FetchRows): Promise<ReadResult> {
  const out: StreamChunk[] = []
  const textual = isTextContentType(stream.contentType)
  const cut = !stream.json && (!textual || options.cutText)
  let bytes = 0
  let pos = fromPos
  outer: for (const segment of segments) {
    const end = Math.min(segment.to, stream.tailPos)
    while (pos < end) {
      const rows = await fetchRows(segment.streamId, pos, end, ROWS_PER_QUERY)
      if (rows.length === 0) break
      for (const row of rows) {
        const start = Math.max(row.startPos, pos)
        const stop = Math.min(row.endPos, end)
        const room = options.maxBytes - bytes
        const first = out.length === 0
        const piece = stream.json
          ? jsonPiece(row, start, stop, room, first)
          : bytePiece(row, start, stop, room, first, cut, textual)
        if (!piece) break outer
        out.push(piece.data)
        bytes += piece.data.length
        pos = piece.end
        if (pos < stop) break outer
      }
    }
  }
  return { stream, fromPos, nextPos: pos, chunks: out }
}

/** End of the append that holds `position` (the limit of a fork sub-offset), if any data follows. */
export async function nextBoundary(stream: StoredStream, segments: Segment[], position: number, fetchRows: FetchRows): Promise<number | undefined> {
  for (const segment of segments) {
    const end = Math.min(segment.to, stream.tailPos)
    if (end <= position) continue
    const [row] = await fetchRows(segment.streamId, position, end, 1)
    if (row) return Math.min(row.endPos, end)
  }
  return undefined
}

/**
 * The part of a byte row between positions `start` and `stop` that fits in `room` bytes: all of
 * it, or — when cutting is allowed — a cut that never splits a UTF-8 character of a text
 * stream. The first piece of a read is never empty. Undefined when nothing more fits.
 */
function bytePiece(row: DataRow, start: number, stop: number, room: number, first: boolean, cut: boolean, textual: boolean): { data: Buffer, end: number } | undefined {
  const data = Buffer.isBuffer(row.data) ? row.data : Buffer.from(row.data)
  const offset = start - row.startPos
  let length = stop - start
  if (length > room) {
    if (!cut) {
      if (!first) return undefined
    }
    else {
      if (room <= 0) return undefined
      length = room
      if (textual) {
        while (length > 1 && (data[offset + length]! & 0xC0) === 0x80) length--
      }
    }
  }
  const whole = offset === 0 && length === data.length
  return { data: whole ? data : data.subarray(offset, offset + length), end: start + length }
}

/**
 * The whole messages of a JSON row between positions `start` and `stop` that fit in `room`
 * bytes (the first piece of a read always holds at least one); undefined when none fits.
 * (Rows written before JSON appends were stored as bytes hold text with string-index bounds.)
 */
function jsonPiece(row: DataRow, start: number, stop: number, room: number, first: boolean): { data: Buffer | string, end: number } | undefined {
  const data = row.data
  if (start === row.startPos && stop === row.endPos && data.length <= room) return { data, end: stop }
  const ends = parseBounds(row.bounds)
  const from = start - row.startPos
  const startOffset = from === 0 ? 0 : ends[from - 1]! + 1
  const stopOffset = (to: number) => (to > ends.length ? data.length : ends[to - 1]!)
  // The largest `to` whose messages fit: message ends are increasing, so bisect.
  let low = from
  let high = stop - row.startPos
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    if (stopOffset(middle) - startOffset <= room) low = middle
    else high = middle - 1
  }
  if (low === from) {
    if (!first) return undefined
    low = from + 1
  }
  return { data: sliceJsonAppend(data, ends, from, low), end: row.startPos + low }
}
