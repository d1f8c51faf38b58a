/**
 * Offsets are `<16 digits>_<16 digits>`: a reserved segment number (always zero here) and the
 * position, both zero-padded so that string order is stream order. The shape matches the
 * reference server's, which the official conformance suite addresses literally
 * (`0000000000000000_0000000000000000` is the start of every stream).
 */
const WIDTH = 16
const SEGMENT = '0'.repeat(WIDTH)
const OFFSET_PATTERN = /^0{16}_(\d{16})$/

export const STREAM_START = '-1'
export const STREAM_NOW = 'now'

export function formatOffset(position: number): string {
  return `${SEGMENT}_${String(position).padStart(WIDTH, '0')}`
}

/** The position an offset names, or undefined if the string is not an offset this server mints. */
export function parseOffset(offset: string): number | undefined {
  const match = OFFSET_PATTERN.exec(offset)
  if (!match) return undefined
  const position = Number(match[1])
  return Number.isSafeInteger(position) ? position : undefined
}
