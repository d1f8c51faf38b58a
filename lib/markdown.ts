import type { Code, Definition, Nodes, RootContent } from 'mdast'
import { fromMarkdown } from 'mdast-util-from-markdown'
import { gfmFromMarkdown } from 'mdast-util-gfm'
import type { Options as MicromarkOptions } from 'micromark'
import { gfm } from 'micromark-extension-gfm'

/**
 * Agent Markdown → mdast, by micromark (CommonMark + GFM tables, task lists, strikethrough and
 * footnotes). `markdown-render.ts` turns the tree into VNodes, never into HTML, and links bare
 * http(s) URLs itself (see there why GFM's literal autolinks are off).
 *
 * micromark is not linear-time on every input. Measured here (tests/components/hostile-input.test.ts
 * keeps the corpus): each `*`, `_`, `~`, `]` or `<` searches back or ahead through its paragraph,
 * so 50,000 of them take seconds to a minute; so do 25,000 setext underlines and a line of 4,000
 * nested `- ` (which also overflows the stack); a paragraph of 50,000 lines or 25,000 list items is
 * linear but costs ~100 µs per line. An agent message may hold 100,000 characters and the server
 * renders it for every viewer, so:
 *
 * 1. The message is cut into sections at blank lines before top-level blocks (and around
 *    top-level fenced code), each parsed on its own. A section is at least SECTION_MIN_LENGTH long
 *    unless the message ends there, so a long message costs a few dozen parses, not thousands.
 *    While an agent streams, only the last section changes: `createMarkdownParser` re-parses only it.
 * 2. One pass over each section counts what drives those costs. Past a limit, the constructs
 *    behind a driver are switched off for that section (their characters stay literal text); a
 *    section denser than any prose (a line every few characters, thousands of punctuation marks)
 *    is shown as plain text. Every parse thus stays within a fixed multiple of its length. Prose, tables and lists as
 *    agents write them are far below the limits; fenced code, where micromark parses no inline
 *    syntax, is not counted.
 *
 * What cutting gives up: a reference link or footnote resolves only within its section.
 */

/** What a parsed section holds: its blocks, and its link definitions for references to resolve against. */
export interface MarkdownSection {
  nodes: RootContent[]
  definitions: ReadonlyMap<string, Definition>
}

export const SECTION_MIN_LENGTH = 2000

/**
 * Per section, how many of each cost driver micromark may see before the constructs behind it are
 * switched off. The costs at these limits are measured in the hostile-input test.
 */
const CONSTRUCT_LIMITS = {
  /** `*` and `_`: emphasis and strong. */
  emphasisMarkers: { limit: 400, disable: ['attention'] },
  /** `~`: strikethrough. */
  tildes: { limit: 120, disable: ['strikethrough'] },
  /** `[`: the start of every link, image, reference and footnote call. */
  openingBrackets: { limit: 300, disable: ['labelStartLink', 'labelStartImage', 'gfmFootnoteCall'] },
  /** `]`: their end. */
  closingBrackets: { limit: 300, disable: ['labelEnd', 'gfmPotentialFootnoteCall'] },
  /** Backtick runs: code spans. */
  backtickRuns: { limit: 300, disable: ['codeText'] },
  /** `<`: inline HTML and `<https://…>` autolinks. */
  openingAngles: { limit: 200, disable: ['htmlText', 'autolink'] },
  /** Lines of only `=` or only `-`: setext headings (and rules). */
  underlineLines: { limit: 24, disable: ['setextUnderline'] },
  /** Block quote and list markers opening one line: nesting depth. */
  lineContainers: { limit: 12, disable: ['blockQuote', 'list'] },
} as const

/** Past any of these a section is shown as plain text. */
const PLAIN_TEXT_LIMITS = {
  /**
   * Lines, but not those inside fenced code: each block costs micromark ~25–100 µs, far more than
   * its characters, so a section may hold at most one line per 6 characters, and 1500 in all.
   */
  lines: (length: number) => Math.min(1500, 32 + length / 6),
  /** ASCII punctuation: every mark may start a construct. */
  punctuation: () => 4000,
  /** Leading columns of a line: lists nested by indentation cost micromark their depth squared. */
  indentation: () => 128,
} as const

type CostDriver = keyof typeof CONSTRUCT_LIMITS | keyof typeof PLAIN_TEXT_LIMITS
type CostCounts = Record<CostDriver, number>

/** GFM's literal autolinks are super-linear (see markdown-render.ts): off in every parse. */
const GFM_SYNTAX: NonNullable<MicromarkOptions['extensions']> = [gfm(), { disable: { null: ['wwwAutolink', 'protocolAutolink', 'emailAutolink'] } }]
/** Their tree transform re-scans the rest of a text node after every rejected URL: dropped too. */
const GFM_TREE = gfmFromMarkdown().map(extension => ({ ...extension, transforms: [] }))

/** The message's sections, each parsed and ready to render. */
export function parseMarkdown(source: string): MarkdownSection[] {
  return splitMarkdownSections(source).map(parseMarkdownSection)
}

/**
 * A parser that remembers the previous call's sections: a message streamed token by token is
 * re-parsed only from the section that changed, so each token costs about one section's parse,
 * however long the message already is.
 */
export function createMarkdownParser(): (source: string) => MarkdownSection[] {
  const split = createSectionSplitter()
  let previous = new Map<string, MarkdownSection>()
  return (source) => {
    const current = new Map<string, MarkdownSection>()
    const sections = split(source).map((text) => {
      const parsed = current.get(text) ?? previous.get(text) ?? recentSection(text)
      current.set(text, parsed)
      return parsed
    })
    previous = current
    return sections
  }
}

/** Sections parsed lately, by text, least recently used dropped: see recentSection. */
const recentSections = new Map<string, MarkdownSection>()
const RECENT_SECTIONS = 300

/**
 * A section's parse, shared by every parser: a server renders the same newest messages for
 * every viewer of a session, and a page re-renders them when a panel pages. Parsed sections are
 * never changed after parsing, so one may serve any number of renders.
 */
function recentSection(text: string): MarkdownSection {
  let parsed = recentSections.get(text)
  if (parsed) recentSections.delete(text)
  else parsed = parseMarkdownSection(text)
  recentSections.set(text, parsed)
  if (recentSections.size > RECENT_SECTIONS) recentSections.delete(recentSections.keys().next().value!)
  return parsed
}

/**
 * `splitMarkdownSections`, remembering the previous call: when the text only grew (streaming), the
 * sections before the last two cannot change — each starts at a line that a line ending has
 * completed — so only the text from there is split again.
 */
export function createSectionSplitter(minLength = SECTION_MIN_LENGTH): (source: string) => string[] {
  let previousSource = ''
  let previousSections: string[] = []
  return (source) => {
    const kept = source.startsWith(previousSource) ? previousSections.slice(0, -2) : []
    let offset = 0
    for (const section of kept) offset += section.length
    const sections = kept.concat(splitMarkdownSections(source.slice(offset), minLength))
    previousSource = source
    previousSections = sections
    return sections
  }
}

export function parseMarkdownSection(text: string): MarkdownSection {
  const code = codeBlockSection(text)
  if (code) return { nodes: [code], definitions: new Map() }
  const counts = countCostDrivers(text)
  if ((Object.keys(PLAIN_TEXT_LIMITS) as Array<keyof typeof PLAIN_TEXT_LIMITS>).some(driver => counts[driver] > PLAIN_TEXT_LIMITS[driver](text.length)))
    return { nodes: plainText(text), definitions: new Map() }
  const disable = (Object.keys(CONSTRUCT_LIMITS) as Array<keyof typeof CONSTRUCT_LIMITS>)
    .flatMap(driver => counts[driver] > CONSTRUCT_LIMITS[driver].limit ? CONSTRUCT_LIMITS[driver].disable : [])
  const root = fromMarkdown(text, { extensions: [...GFM_SYNTAX, { disable: { null: disable } }], mdastExtensions: [GFM_TREE] })
  return { nodes: root.children, definitions: collectDefinitions(root.children) }
}

/** Paragraphs at blank lines, their lines as written (the renderer keeps their line breaks). */
function plainText(text: string): RootContent[] {
  const paragraphs: string[][] = []
  let current: string[] | null = null
  for (const line of linesOf(text)) {
    if (isBlank(text, line)) {
      current = null
      continue
    }
    if (!current) paragraphs.push(current = [])
    current.push(text.slice(line.start, line.end))
  }
  return paragraphs.map(lines => ({ type: 'paragraph', children: [{ type: 'text', value: lines.join('\n') }] }))
}

function collectDefinitions(nodes: RootContent[]): Map<string, Definition> {
  const definitions = new Map<string, Definition>()
  const pending: Nodes[] = [...nodes]
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (node.type === 'definition') {
      if (!definitions.has(node.identifier)) definitions.set(node.identifier, node)
    }
    else if ('children' in node) {
      for (const child of node.children) pending.push(child)
    }
  }
  return definitions
}

// ---------------------------------------------------------------------------------------------
// One pass over the text: sections, fenced code, cost drivers. Only ASCII matters here.
// ---------------------------------------------------------------------------------------------

const BACKTICK = 0x60
const TILDE = 0x7E
const SPACE = 0x20
const TAB = 0x09
const LF = 0x0A
const CR = 0x0D

interface Line {
  start: number
  /** End of the content, before the line ending. */
  end: number
  /** Start of the next line. */
  next: number
}

function* linesOf(text: string): Generator<Line> {
  let start = 0
  while (start < text.length) {
    let end = start
    while (end < text.length && text.charCodeAt(end) !== LF && text.charCodeAt(end) !== CR) end++
    const next = text.charCodeAt(end) === CR && text.charCodeAt(end + 1) === LF ? end + 2 : Math.min(text.length, end + 1)
    yield { start, end, next }
    start = next
  }
}

function isBlank(text: string, line: Line): boolean {
  for (let i = line.start; i < line.end; i++) {
    const code = text.charCodeAt(i)
    if (code !== SPACE && code !== TAB) return false
  }
  return true
}

interface Fence {
  marker: number
  length: number
}

/**
 * A fenced code opening at column 0 (CommonMark: three or more backticks or tildes; a backtick
 * fence's info string has no backtick), or null. Only column 0 counts: there, whatever came before,
 * the fence is a top-level block, so micromark parses the lines up to its closing fence as code.
 */
function openingFence(text: string, line: Line): Fence | null {
  const marker = text.charCodeAt(line.start)
  if (marker !== BACKTICK && marker !== TILDE) return null
  let i = line.start
  while (i < line.end && text.charCodeAt(i) === marker) i++
  const length = i - line.start
  if (length < 3) return null
  if (marker === BACKTICK) {
    for (; i < line.end; i++) {
      if (text.charCodeAt(i) === BACKTICK) return null
    }
  }
  return { marker, length }
}

/** CommonMark's closing fence: up to three spaces, at least as many markers, then only spaces or tabs. */
function closesFence(text: string, line: Line, fence: Fence): boolean {
  let i = line.start
  while (i < line.end && i - line.start < 3 && text.charCodeAt(i) === SPACE) i++
  const markersStart = i
  while (i < line.end && text.charCodeAt(i) === fence.marker) i++
  if (i - markersStart < fence.length) return false
  for (; i < line.end; i++) {
    const code = text.charCodeAt(i)
    if (code !== SPACE && code !== TAB) return false
  }
  return true
}

/** A list item marker (`-`, `+`, `*`, `1.`, `1)`) followed by a space, a tab or the line end, at `at`. */
function listMarkerLength(text: string, at: number, end: number): number {
  const code = text.charCodeAt(at)
  let after = at
  if (code === 0x2D || code === 0x2B || code === 0x2A) {
    after = at + 1
  }
  else {
    while (after < end && after - at < 9 && isDigit(text.charCodeAt(after))) after++
    if (after === at || (text.charCodeAt(after) !== 0x2E && text.charCodeAt(after) !== 0x29)) return 0
    after++
  }
  const next = text.charCodeAt(after)
  return after === end || next === SPACE || next === TAB ? after - at : 0
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39
}

/**
 * Where a new section may start: after a blank line (or a closed column-0 fence), on a line that
 * starts in column 0 and is not a list item — such a line can only begin a top-level block, so the
 * sections parse as the whole message would, give or take a reference across sections. A long
 * fenced code block becomes a section of its own, which is built without micromark.
 */
export function splitMarkdownSections(text: string, minLength = SECTION_MIN_LENGTH): string[] {
  const starts = [0]
  const cut = (at: number) => {
    if (at > starts[starts.length - 1]! && at < text.length) starts.push(at)
  }
  let code: { fence: Fence, start: number } | null = null
  let afterBreak = true
  for (const line of linesOf(text)) {
    if (code) {
      if (closesFence(text, line, code.fence)) {
        if (line.next - code.start >= minLength) {
          cut(code.start)
          cut(line.next)
        }
        code = null
        afterBreak = true
      }
      continue
    }
    const first = text.charCodeAt(line.start)
    const opening = openingFence(text, line)
    const mayStart = (afterBreak || opening !== null) && line.end > line.start && first !== SPACE && first !== TAB
      && listMarkerLength(text, line.start, line.end) === 0
    if (mayStart && line.start - starts[starts.length - 1]! >= minLength) cut(line.start)
    if (opening) code = { fence: opening, start: line.start }
    afterBreak = isBlank(text, line)
  }
  // A long code block still being written is a section of its own too.
  if (code && text.length - code.start >= minLength) cut(code.start)
  if (!text) return []
  return starts.map((start, index) => text.slice(start, starts[index + 1] ?? text.length))
}

/**
 * The code block, when the section is one fenced block opening in column 0 and nothing else, as
 * micromark would build it: the lines between the fences as written (a column-0 fence strips no
 * indentation), the info string's first word as the language and the rest as meta.
 */
function codeBlockSection(text: string): Code | null {
  const lines = linesOf(text)
  const opening = lines.next()
  const fence = opening.done ? null : openingFence(text, opening.value)
  if (!fence || opening.done) return null
  /** Where the first content line starts and the last one ends, before its line ending. */
  let contentStart = -1
  let contentEnd = -1
  for (let line = lines.next(); !line.done; line = lines.next()) {
    if (closesFence(text, line.value, fence)) {
      if (!lines.next().done) return null
      break
    }
    if (contentStart < 0) contentStart = line.value.start
    contentEnd = line.value.end
  }
  const { start, end } = opening.value
  let at = skipSpaces(text, start + fence.length, end)
  const langStart = at
  while (at < end && text.charCodeAt(at) !== SPACE && text.charCodeAt(at) !== TAB) at++
  const lang = text.slice(langStart, at)
  at = skipSpaces(text, at, end)
  return {
    type: 'code',
    lang: lang || null,
    meta: at < end ? text.slice(at, end) : null,
    value: contentStart < 0 ? '' : text.slice(contentStart, contentEnd),
  }
}

function skipSpaces(text: string, from: number, end: number): number {
  while (from < end && (text.charCodeAt(from) === SPACE || text.charCodeAt(from) === TAB)) from++
  return from
}

/**
 * The cost drivers of one section. The lines inside a fenced code block that opens in column 0
 * are skipped (its fences count as lines), until a line starting with `<` (raw HTML, whose blocks can hide a fence from micromark):
 * from there on, everything counts.
 */
function countCostDrivers(text: string): CostCounts {
  const counts: CostCounts = {
    emphasisMarkers: 0, tildes: 0, openingBrackets: 0, closingBrackets: 0, backtickRuns: 0, openingAngles: 0,
    underlineLines: 0, lineContainers: 0, lines: 0, punctuation: 0, indentation: 0,
  }
  let fence: Fence | null = null
  let trustFences = true
  for (const line of linesOf(text)) {
    if (fence) {
      if (closesFence(text, line, fence)) {
        fence = null
        counts.lines++
      }
      continue
    }
    if (trustFences) fence = openingFence(text, line)
    if (fence) {
      counts.lines++
      continue
    }
    if (text.charCodeAt(skipSpaces(text, line.start, line.end)) === 0x3C) trustFences = false
    countLine(text, line, counts)
  }
  return counts
}

function countLine(text: string, line: Line, counts: CostCounts): void {
  counts.lines++
  if (isBlank(text, line)) return
  let columns = 0
  for (let at = line.start; at < line.end && (text.charCodeAt(at) === SPACE || text.charCodeAt(at) === TAB); at++)
    columns += text.charCodeAt(at) === TAB ? 4 - (columns % 4) : 1
  counts.indentation = Math.max(counts.indentation, columns)
  let containers = 0
  let i = line.start
  for (;;) {
    i = skipSpaces(text, i, line.end)
    const marker = text.charCodeAt(i) === 0x3E ? 1 : listMarkerLength(text, i, line.end)
    if (!marker || i >= line.end) break
    containers++
    i += marker
  }
  counts.lineContainers = Math.max(counts.lineContainers, containers)

  /** 0 so far, the one character (`=` or `-`) the line holds, or -1 when it holds anything else. */
  let underline = 0
  for (let at = line.start; at < line.end; at++) {
    const code = text.charCodeAt(at)
    if (isPunctuation(code)) counts.punctuation++
    if (code === 0x2A || code === 0x5F) counts.emphasisMarkers++
    else if (code === TILDE) counts.tildes++
    else if (code === 0x5B) counts.openingBrackets++
    else if (code === 0x5D) counts.closingBrackets++
    else if (code === 0x3C) counts.openingAngles++
    else if (code === BACKTICK && text.charCodeAt(at - 1) !== BACKTICK) counts.backtickRuns++
    if (code === 0x3D || code === 0x2D) underline = underline === 0 || underline === code ? code : -1
    else if (code !== SPACE && code !== TAB) underline = -1
  }
  if (underline > 0) counts.underlineLines++
}

function isPunctuation(code: number): boolean {
  return (code >= 0x21 && code <= 0x2F) || (code >= 0x3A && code <= 0x40) || (code >= 0x5B && code <= 0x60) || (code >= 0x7B && code <= 0x7E)
}
