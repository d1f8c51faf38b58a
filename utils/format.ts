/**
 * What templates show: small, deterministic formatters (the same output on the server and in the
 * browser). Auto-imported, so an app extending this layer has them in its templates too.
 */

/** 850 → "850 ms", 1234 → "1.2 s", 65_000 → "1 min 5 s", 3_720_000 → "1 h 2 min". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return ''
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`
  const seconds = Math.floor(ms / 1000)
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`
  const hours = Math.floor(minutes / 60)
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`
}

/** "Ada Lovelace" → "AL", "grace" → "GR", "" → "?". */
export function initialsOf(name: string): string {
  const words = name.trim().split(/[\s._@-]+/u).filter(word => /^[\p{L}\p{N}]/u.test(word))
  if (words.length === 0) return '?'
  const letters = words.length === 1 ? Array.from(words[0]!).slice(0, 2) : [Array.from(words[0]!)[0], Array.from(words[words.length - 1]!)[0]]
  return letters.join('').toUpperCase()
}

/** A stable hue (0–359) per id, so one person or agent keeps one colour everywhere. */
export function hueOf(id: string): number {
  let hash = 0
  for (let i = 0; i < id.length; i++) hash = (Math.imul(hash, 31) + id.charCodeAt(i)) | 0
  return Math.abs(hash) % 360
}

/** JSON pretty-printed for a `<pre>`; values JSON cannot express are labelled instead of thrown. */
export function prettyJson(value: unknown): string {
  if (value === undefined) return '—'
  try {
    return JSON.stringify(value, null, 2) ?? String(value)
  }
  catch {
    return '[unserialisable value]'
  }
}

export type TimestampFormat = 'time' | 'datetime'

const TIMESTAMP_OPTIONS: Record<TimestampFormat, Intl.DateTimeFormatOptions> = {
  time: { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false },
  datetime: { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false },
}
/** Formatters are costly to build and a long session renders hundreds of timestamps: build each once. */
const timestampFormatters = new Map<string, Intl.DateTimeFormat>()
/** en-GB's short month names, as its Intl.DateTimeFormat writes them. */
const UTC_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sept', 'Oct', 'Nov', 'Dec']

/**
 * The UTC text, written without Intl: the first Intl formatter a page builds loads the locale
 * data (~50 ms on a throttled phone), which would land in the hydration task.
 */
function formatUtc(date: Date, format: TimestampFormat): string {
  const two = (value: number) => String(value).padStart(2, '0')
  const clock = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}`
  return format === 'time'
    ? `${clock}:${two(date.getUTCSeconds())} UTC`
    : `${date.getUTCDate()} ${UTC_MONTHS[date.getUTCMonth()]}, ${clock} UTC`
}

/**
 * `time` → "14:03:22", `datetime` → "26 Nov, 14:03". `utc: true` gives the same text on every
 * machine (server render and hydration) with a " UTC" suffix; otherwise the reader's zone.
 */
export function formatTimestamp(iso: string, format: TimestampFormat = 'time', utc = false): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  if (utc) return formatUtc(date, format)
  let formatter = timestampFormatters.get(format)
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(undefined, TIMESTAMP_OPTIONS[format])
    timestampFormatters.set(format, formatter)
  }
  return formatter.format(date)
}
