/** Small, deterministic formatters shared by the viewer's components (same output on server and client). */

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

/** Whole seconds until `target` (never negative), for "reconnecting in 3 s". */
export function secondsUntil(target: number, now: number): number {
  return Math.max(0, Math.ceil((target - now) / 1000))
}

/** Accepts epoch milliseconds, an ISO string or a Date; null when absent or unparsable. */
export function toEpochMs(value: number | string | Date | null | undefined): number | null {
  if (value === null || value === undefined) return null
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : value.getTime()
  return Number.isFinite(ms) ? ms : null
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

/** Escapes text for an HTML attribute value in double quotes (the copied embed snippet). */
export function escapeHtmlAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

export interface EmbedSnippetOptions {
  src: string
  title: string
  height?: number
}

/**
 * The `<iframe>` users paste into their own pages. Every value is attribute-escaped: a session
 * titled `"><script>…` must not inject markup into the page of whoever pastes the snippet.
 */
export function buildEmbedSnippet({ src, title, height = 600 }: EmbedSnippetOptions): string {
  return `<iframe src="${escapeHtmlAttribute(src)}" title="${escapeHtmlAttribute(title)}" width="100%" height="${Math.round(height)}" style="border:0;border-radius:8px" loading="lazy" allow="clipboard-write"></iframe>`
}

/** The embed URL with `?panels=` and `?theme=` set (others kept); unchanged when it cannot be parsed. */
export function withEmbedOptions(url: string, options: { panels?: readonly string[], theme?: 'light' | 'dark' | null }): string {
  try {
    const parsed = new URL(url, 'http://placeholder.invalid')
    if (options.panels?.length) parsed.searchParams.set('panels', options.panels.join(','))
    else parsed.searchParams.delete('panels')
    if (options.theme) parsed.searchParams.set('theme', options.theme)
    else parsed.searchParams.delete('theme')
    const absolute = /^[a-z][a-z\d+.-]*:/i.test(url)
    return absolute ? parsed.href : parsed.pathname + parsed.search + parsed.hash
  }
  catch {
    return url
  }
}

export type TimestampFormat = 'time' | 'datetime'

const TIMESTAMP_OPTIONS: Record<TimestampFormat, Intl.DateTimeFormatOptions> = {
  time: { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false },
  datetime: { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false },
}
/** Formatters are costly to build and a long session renders hundreds of timestamps: build each once. */
const timestampFormatters = new Map<string, Intl.DateTimeFormat>()

/**
 * `time` → "14:03:22", `datetime` → "26 Nov, 14:03". `utc: true` gives the same text on every
 * machine (server render and hydration) with a " UTC" suffix; otherwise the reader's zone.
 */
export function formatTimestamp(iso: string, format: TimestampFormat = 'time', utc = false): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  const key = `${format}:${utc}`
  let formatter = timestampFormatters.get(key)
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(utc ? 'en-GB' : undefined, { ...TIMESTAMP_OPTIONS[format], ...(utc ? { timeZone: 'UTC' } : {}) })
    timestampFormatters.set(key, formatter)
  }
  return utc ? `${formatter.format(date)} UTC` : formatter.format(date)
}
