/**
 * Terminal output (ANSI / ECMA-48 escape codes) → styled text segments. The viewer renders each
 * segment as a `<span>` with classes, so terminal output is only ever text. Supported SGR codes:
 * 0 reset, 1 bold, 2 dim, 22 normal intensity, 3/23 italic, 4/24 underline, 30–37 and 90–97
 * foreground, 39 default. Every other control sequence — CSI with private or intermediate bytes
 * (`ESC[?25l`, `ESC[>0c`, `ESC[1 q`), OSC titles and hyperlinks (BEL- or ST-terminated), DCS/APC
 * strings, 256-colour and RGB colours, backgrounds — is consumed without effect, so it never
 * shows up as garbage.
 *
 * One pass over the string, one character at a time, no regular expression: the input is a
 * terminal record of up to 100,000 characters written by an agent, and SSR must stay linear in it.
 * npm's ANSI parsers did not fit: `ansi-sequence-parser` searches for the next `m` after every
 * ESC (quadratic on `ESC[` repeated, and it shows OSC sequences); `anser` splits on `ESC[` only,
 * so OSC titles and carriage returns stay in the text.
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

const ESC = 0x1B
const BEL = 0x07
const LF = 0x0A
const CR = 0x0D

/**
 * Where the scanner stands: in text; after ESC; after ESC and intermediate bytes (`ESC ( B`),
 * waiting for the final byte; in a CSI (`ESC [` parameters, intermediates, final byte); or in a
 * control string — OSC (`ESC ]`), DCS (`ESC P`), SOS, PM, APC — that runs to ST (`ESC \`), or to
 * BEL for OSC.
 */
type Mode = 'text' | 'escape' | 'escape-intermediate' | 'csi' | 'control-string'

/** C0 controls other than tab, line feed and carriage return, and DEL: never displayed. */
function isHiddenControl(code: number): boolean {
  return (code < 0x20 && code !== 0x09 && code !== LF && code !== CR) || code === 0x7F
}

export function parseAnsi(input: string, initial: AnsiStyle = PLAIN_ANSI_STYLE): AnsiSegment[] {
  const segments: AnsiSegment[] = []
  let style: AnsiStyle = { ...initial }
  // The current line is kept apart until its line feed: a carriage return followed by more text
  // replaces it (progress bars), and dropping a list of runs costs nothing.
  let line: AnsiSegment[] = []
  let overwritePending = false

  const write = (text: string) => {
    if (overwritePending) {
      line = []
      overwritePending = false
    }
    const last = line[line.length - 1]
    if (last && sameStyle(last, style)) last.text += text
    else line.push({ ...style, text })
  }
  const endLine = () => {
    for (const run of line) {
      const last = segments[segments.length - 1]
      if (last && sameStyle(last, run)) last.text += run.text
      else segments.push(run)
    }
    line = []
    overwritePending = false
  }

  let mode: Mode = 'text'
  /** Start of the pending text (Text mode) or of the CSI parameters (Csi mode). */
  let start = 0
  let stringIsOsc = false
  const flushText = (end: number) => {
    if (end > start) write(input.slice(start, end))
  }
  /** Back to text after the sequence character at `at`; returns where the loop goes on from. */
  const endSequence = (at: number, consumed: boolean): number => {
    mode = 'text'
    start = consumed ? at + 1 : at
    return consumed ? at : at - 1
  }

  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i)
    switch (mode) {
      case 'text':
        if (code === ESC) {
          flushText(i)
          mode = 'escape'
        }
        else if (code === LF) {
          flushText(i)
          // `\r\n` ends the line; it does not erase it.
          overwritePending = false
          write('\n')
          endLine()
          start = i + 1
        }
        else if (code === CR) {
          flushText(i)
          overwritePending = true
          start = i + 1
        }
        else if (isHiddenControl(code)) {
          flushText(i)
          start = i + 1
        }
        break

      case 'escape':
        if (code === 0x5B) {
          mode = 'csi'
          start = i + 1
        }
        else if (code === 0x5D || code === 0x50 || code === 0x58 || code === 0x5E || code === 0x5F) {
          mode = 'control-string'
          stringIsOsc = code === 0x5D
        }
        else if (code >= 0x20 && code <= 0x2F) {
          mode = 'escape-intermediate'
        }
        else if (code !== ESC) {
          // A two-byte escape (`ESC 7`, `ESC M`, `ESC c`) is consumed; any other character ends the
          // escape and is read as text. (ESC ESC: the first one is dropped, the second starts over.)
          i = endSequence(i, code >= 0x30 && code <= 0x7E)
        }
        break

      case 'escape-intermediate':
        if (code < 0x20 || code > 0x2F) i = endSequence(i, code >= 0x30 && code <= 0x7E)
        break

      case 'csi':
        if (code >= 0x40 && code <= 0x7E) {
          if (code === 0x6D) style = applySgr(style, input.slice(start, i))
          i = endSequence(i, true)
        }
        else if (code < 0x20 || code > 0x7E) {
          // Not part of a control sequence: the sequence is abandoned, the character is read again.
          i = endSequence(i, false)
        }
        break

      case 'control-string':
        if (code === BEL && stringIsOsc) i = endSequence(i, true)
        // ST (`ESC \`) ends the string; any other ESC ends it and starts a new escape.
        else if (code === ESC && input.charCodeAt(i + 1) === 0x5C) i = endSequence(i + 1, true)
        else if (code === ESC) mode = 'escape'
        break
    }
  }
  if (mode === 'text') flushText(input.length)
  endLine()
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

/**
 * SGR parameters (between `ESC[` and `m`). Only plain `CSI … m` is SGR: a private marker (`CSI > 4;2 m`,
 * xterm's key modifiers) or an intermediate byte makes it another command, which is ignored.
 */
function applySgr(current: AnsiStyle, params: string): AnsiStyle {
  for (let i = 0; i < params.length; i++) {
    const code = params.charCodeAt(i)
    if ((code < 0x30 || code > 0x39) && code !== 0x3A && code !== 0x3B) return current
  }
  const style = { ...current }
  // `;` separates parameters; `:` separates the sub-parameters of one (`38:2::255:0:0`).
  const codes = params.split(';')
  for (let i = 0; i < codes.length; i++) {
    const [first = '', ...sub] = codes[i]!.split(':')
    const code = first === '' ? 0 : Number(first)
    if (code === 0) Object.assign(style, PLAIN_ANSI_STYLE)
    else if (code === 1) style.bold = true
    else if (code === 2) style.dim = true
    else if (code === 22) style.bold = style.dim = false
    else if (code === 3) style.italic = true
    else if (code === 23) style.italic = false
    else if (code === 4) style.underline = sub[0] !== '0'
    else if (code === 24) style.underline = false
    else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) style.fg = code
    else if (code === 39) style.fg = null
    // 38/48/58;5;n and ;2;r;g;b carry arguments that must not be read as codes themselves.
    else if ((code === 38 || code === 48 || code === 58) && sub.length === 0) i += codes[i + 1] === '5' ? 2 : codes[i + 1] === '2' ? 4 : 0
  }
  return style
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return a.fg === b.fg && a.bold === b.bold && a.dim === b.dim && a.italic === b.italic && a.underline === b.underline
}
