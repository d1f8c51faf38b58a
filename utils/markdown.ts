/**
 * A small Markdown parser for agent output. It produces a plain tree (no HTML strings at all):
 * `renderMarkdown` turns the tree into Vue VNodes whose text is always text, so HTML or
 * `<script>` written by an agent can only ever be displayed, never run.
 *
 * Supported: ATX headings, paragraphs (a single newline is a line break, as agents mean it),
 * fenced code blocks (an unclosed fence — common mid-stream — runs to the end), `-`/`*`/`+` and
 * numbered lists (nested by indentation), blockquotes, rules, `code`, **strong**, *em*,
 * [links](https://…) and bare http(s) URLs. Anything else stays literal text.
 *
 * Every scan is bounded or memoised, so hostile input (100k `*` or `[`) parses in linear time.
 */

export type MarkdownInline =
  | { type: 'text', text: string }
  | { type: 'code', text: string }
  | { type: 'strong', children: MarkdownInline[] }
  | { type: 'em', children: MarkdownInline[] }
  | { type: 'link', href: string, children: MarkdownInline[] }
  | { type: 'break' }

export type MarkdownBlock =
  | { type: 'heading', level: 1 | 2 | 3 | 4 | 5 | 6, children: MarkdownInline[] }
  | { type: 'paragraph', children: MarkdownInline[] }
  | { type: 'code', lang: string | null, text: string }
  | { type: 'list', ordered: boolean, start: number, items: MarkdownBlock[][] }
  | { type: 'blockquote', children: MarkdownBlock[] }
  | { type: 'rule' }

/** Deeper nesting (of quotes, lists, emphasis) is shown as text: it bounds recursion. */
const MAX_BLOCK_DEPTH = 8
const MAX_INLINE_DEPTH = 6
const MAX_LINK_LABEL = 500
const MAX_URL = 2048

/** The URL if it is an absolute http(s) URL, else null: `javascript:`, `data:` and relative links never render. */
export function safeLinkHref(raw: string): string | null {
  const candidate = raw.trim()
  if (!/^https?:\/\//i.test(candidate) || candidate.length > MAX_URL) return null
  try {
    const url = new URL(candidate)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null
  }
  catch {
    return null
  }
}

export function parseMarkdown(source: string): MarkdownBlock[] {
  return parseBlocks(source.replace(/\r\n?/g, '\n').split('\n'), 0)
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/
const QUOTE = /^ {0,3}> ?/
const BULLET = /^( {0,3})([-*+])[ \t]+(.*)$/
const ORDERED = /^( {0,3})(\d{1,9})[.)][ \t]+(.*)$/

function isBlank(line: string): boolean {
  return line.trim() === ''
}

function startsBlock(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || BULLET.test(line) || ORDERED.test(line)
}

function parseBlocks(lines: string[], depth: number): MarkdownBlock[] {
  const blocks: MarkdownBlock[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (isBlank(line)) {
      i++
      continue
    }

    const fence = FENCE.exec(line)
    if (fence) {
      const marker = fence[1]!
      const closing = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}[ \\t]*$`)
      const body: string[] = []
      i++
      while (i < lines.length && !closing.test(lines[i]!)) body.push(lines[i++]!)
      i++ // the closing fence, or past the end while the block is still streaming
      blocks.push({ type: 'code', lang: fence[2] || null, text: body.join('\n') })
      continue
    }

    const heading = HEADING.exec(line)
    if (heading) {
      const level = heading[1]!.length as 1 | 2 | 3 | 4 | 5 | 6
      blocks.push({ type: 'heading', level, children: parseInline(heading[2] ?? '') })
      i++
      continue
    }

    if (RULE.test(line)) {
      blocks.push({ type: 'rule' })
      i++
      continue
    }

    if (QUOTE.test(line) && depth < MAX_BLOCK_DEPTH) {
      const body: string[] = []
      while (i < lines.length && QUOTE.test(lines[i]!)) body.push(lines[i++]!.replace(QUOTE, ''))
      blocks.push({ type: 'blockquote', children: parseBlocks(body, depth + 1) })
      continue
    }

    const listStart = BULLET.exec(line) ?? ORDERED.exec(line)
    if (listStart && depth < MAX_BLOCK_DEPTH) {
      const ordered = !BULLET.test(line)
      const pattern = ordered ? ORDERED : BULLET
      const items: MarkdownBlock[][] = []
      while (i < lines.length) {
        const item = pattern.exec(lines[i]!)
        if (!item) break
        const indent = item[1]!.length + 2
        const body = [item[3]!]
        i++
        // An item owns the lines indented under it (nested lists, code) and lazy continuation lines.
        while (i < lines.length) {
          const next = lines[i]!
          if (isBlank(next)) {
            const following = lines[i + 1]
            if (following !== undefined && leadingSpaces(following) >= indent && !isBlank(following)) {
              body.push('')
              i++
              continue
            }
            break
          }
          if (leadingSpaces(next) >= indent) body.push(next.slice(indent))
          else if (!startsBlock(next)) body.push(next.trimStart())
          else break
          i++
        }
        items.push(parseBlocks(body, depth + 1))
        if (i < lines.length && isBlank(lines[i]!) && pattern.test(lines[i + 1] ?? '')) i++
      }
      blocks.push({ type: 'list', ordered, start: ordered ? Number(listStart[2]) : 1, items })
      continue
    }

    const paragraph: string[] = [line.trim()]
    i++
    while (i < lines.length && !isBlank(lines[i]!) && !startsBlock(lines[i]!)) paragraph.push(lines[i++]!.trim())
    blocks.push({ type: 'paragraph', children: parseInline(paragraph.join('\n')) })
  }
  return blocks
}

function leadingSpaces(line: string): number {
  const match = /^[ \t]*/.exec(line)![0]
  return match.replace(/\t/g, '    ').length
}

const ESCAPABLE = new Set('\\`*_{}[]()#+-.!<>|~'.split(''))
const AUTOLINK = /https?:\/\/[^\s<>"'`]+/y

function isWordChar(char: string | undefined): boolean {
  return char !== undefined && /[\p{L}\p{N}]/u.test(char)
}

export function parseInline(text: string, depth = 0, inLink = false): MarkdownInline[] {
  const nodes: MarkdownInline[] = []
  let buffer = ''
  const flush = () => {
    if (buffer) nodes.push({ type: 'text', text: buffer })
    buffer = ''
  }

  // Next position of each delimiter, remembered: repeated unmatched openers stay linear.
  const nextCache = new Map<string, { from: number, at: number }>()
  const nextIndex = (delimiter: string, from: number): number => {
    const cached = nextCache.get(delimiter)
    if (cached && from >= cached.from && (cached.at === -1 || cached.at >= from)) return cached.at
    const at = text.indexOf(delimiter, from)
    nextCache.set(delimiter, { from, at })
    return at
  }

  let i = 0
  while (i < text.length) {
    const char = text[i]!

    if (char === '\\' && i + 1 < text.length && ESCAPABLE.has(text[i + 1]!)) {
      buffer += text[i + 1]
      i += 2
      continue
    }

    if (char === '\n') {
      flush()
      nodes.push({ type: 'break' })
      i++
      continue
    }

    if (char === '`') {
      let run = 1
      while (text[i + run] === '`') run++
      const fence = '`'.repeat(run)
      const end = nextIndex(fence, i + run)
      if (end > i + run) {
        flush()
        nodes.push({ type: 'code', text: text.slice(i + run, end).replace(/\n/g, ' ') })
        i = end + run
      }
      else {
        buffer += fence
        i += run
      }
      continue
    }

    if ((char === '*' || char === '_') && depth < MAX_INLINE_DEPTH) {
      const double = text[i + 1] === char
      const delimiter = double ? char + char : char
      const opensWord = char === '*' || !isWordChar(text[i - 1])
      const contentStart = i + delimiter.length
      if (opensWord && text[contentStart] !== undefined && !/\s/.test(text[contentStart]!)) {
        const end = nextIndex(delimiter, contentStart)
        const closesWord = end > contentStart && (char === '*' || !isWordChar(text[end + delimiter.length]))
        if (closesWord && !/\s/.test(text[end - 1]!)) {
          flush()
          const children = parseInline(text.slice(contentStart, end), depth + 1, inLink)
          nodes.push(double ? { type: 'strong', children } : { type: 'em', children })
          i = end + delimiter.length
          continue
        }
      }
      buffer += delimiter
      i += delimiter.length
      continue
    }

    if (char === '[' && !inLink && depth < MAX_INLINE_DEPTH) {
      const close = nextIndex(']', i + 1)
      if (close > i && close - i <= MAX_LINK_LABEL && text[close + 1] === '(') {
        const urlEnd = nextIndex(')', close + 2)
        const rawUrl = urlEnd > close ? text.slice(close + 2, urlEnd) : ''
        if (urlEnd > close && urlEnd - close <= MAX_URL && !/\s/.test(rawUrl.trim())) {
          flush()
          const children = parseInline(text.slice(i + 1, close), depth + 1, true)
          const href = safeLinkHref(rawUrl)
          // An unsafe target keeps its label, as plain text: the reader loses nothing but the link.
          if (href) nodes.push({ type: 'link', href, children })
          else nodes.push(...children)
          i = urlEnd + 1
          continue
        }
      }
      buffer += char
      i++
      continue
    }

    if (char === 'h' && !inLink && !isWordChar(text[i - 1]) && (text.startsWith('http://', i) || text.startsWith('https://', i))) {
      AUTOLINK.lastIndex = i
      const match = AUTOLINK.exec(text)
      if (match) {
        // Sentence punctuation after a URL belongs to the sentence.
        const url = match[0].replace(/[.,;:!?)\]]+$/, '')
        const href = safeLinkHref(url)
        if (href) {
          flush()
          nodes.push({ type: 'link', href, children: [{ type: 'text', text: url }] })
          i += url.length
          continue
        }
      }
    }

    buffer += char
    i++
  }
  flush()
  return nodes
}
