/**
 * ANSI SGR escape codes → styled text segments. The viewer renders each segment as a `<span>`
 * with classes, so terminal output is only ever text. Supported: 0 reset, 1 bold, 2 dim,
 * 22 normal intensity, 3/23 italic, 4/24 underline, 30–37 and 90–97 foreground, 39 default.
 * Other control sequences (cursor moves, OSC titles, 256-colour and RGB colours, backgrounds)
 * are consumed without effect so they never show up as garbage.
 */

export interface AnsiStyle {
  /** The SGR foreground code (30–37, 90–97), or null for the default colour. */
  fg: number | null
  bold: boolean
  dim: boolean
  italic: boolean
  underline: boolean
}

export interface AnsiSegment extends AnsiStyle {
  text: string
}

export const PLAIN_ANSI_STYLE: Readonly<AnsiStyle> = Object.freeze({ fg: null, bold: false, dim: false, italic: false, underline: false })

// CSI (ESC [ params final), OSC (ESC ] … BEL or ESC \), any other two-byte escape.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1B(?:\[([0-9;:?]*)([@-~])|\][^\x07\x1B]*(?:\x07|\x1B\\)?|[@-Z\\-_]?)/g
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0B\x0C\x0E-\x1A\x1C-\x1F\x7F]/g

export function parseAnsi(input: string, initial: AnsiStyle = PLAIN_ANSI_STYLE): AnsiSegment[] {
  const segments: AnsiSegment[] = []
  let style: AnsiStyle = { ...initial }
  const push = (text: string) => {
    const clean = text.replace(CONTROL, '')
    if (!clean) return
    const last = segments[segments.length - 1]
    if (last && sameStyle(last, style)) last.text += clean
    else segments.push({ ...style, text: clean })
  }

  const text = overwriteCarriageReturns(input)
  let cursor = 0
  ESCAPE.lastIndex = 0
  for (let match = ESCAPE.exec(text); match; match = ESCAPE.exec(text)) {
    push(text.slice(cursor, match.index))
    cursor = match.index + match[0].length
    if (match[2] === 'm') style = applySgr(style, match[1] ?? '')
  }
  push(text.slice(cursor))
  return segments
}

/** The text without any escape codes (for copying, searching, accessible names). */
export function stripAnsi(input: string): string {
  return parseAnsi(input).map(segment => segment.text).join('')
}

export function ansiClasses(style: AnsiStyle): string[] {
  const classes: string[] = []
  if (style.fg !== null) classes.push(`ansi-fg-${style.fg}`)
  if (style.bold) classes.push('ansi-bold')
  if (style.dim) classes.push('ansi-dim')
  if (style.italic) classes.push('ansi-italic')
  if (style.underline) classes.push('ansi-underline')
  return classes
}

function applySgr(current: AnsiStyle, params: string): AnsiStyle {
  const style = { ...current }
  const codes = params === '' ? [0] : params.split(/[;:]/).map(code => (code === '' ? 0 : Number(code)))
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!
    if (code === 0) Object.assign(style, PLAIN_ANSI_STYLE)
    else if (code === 1) style.bold = true
    else if (code === 2) style.dim = true
    else if (code === 22) style.bold = style.dim = false
    else if (code === 3) style.italic = true
    else if (code === 23) style.italic = false
    else if (code === 4) style.underline = true
    else if (code === 24) style.underline = false
    else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) style.fg = code
    else if (code === 39) style.fg = null
    // 38/48;5;n and 38/48;2;r;g;b carry arguments that must not be read as codes themselves.
    else if (code === 38 || code === 48) i += codes[i + 1] === 5 ? 2 : codes[i + 1] === 2 ? 4 : 0
  }
  return style
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return a.fg === b.fg && a.bold === b.bold && a.dim === b.dim && a.italic === b.italic && a.underline === b.underline
}

/** A bare `\r` returns to the line start (progress bars): keep what was written last. */
function overwriteCarriageReturns(text: string): string {
  if (!text.includes('\r')) return text
  return text
    .replace(/\r+\n/g, '\n')
    .split('\n')
    .map((line) => {
      const parts = line.split('\r').filter(part => part !== '')
      return parts[parts.length - 1] ?? ''
    })
    .join('\n')
}
