// Server render (node environment), as every viewer of a session page gets it.
import { afterAll, describe, expect, it } from 'vitest'
import { type Component, createSSRApp, h } from 'vue'
import { renderToString } from 'vue/server-renderer'
import { parseExpiry } from '../../server/streams/request'
import { normalizeContentType } from '../../server/streams/content-type'
import { dataEvent } from '../../server/streams/sse'
import { CreateSessionBodySchema, PresenceBodySchema } from '../../shared/sessions/api'
import { SessionEventSchema } from '../../shared/sessions/channels'
import AnsiText from '../../components/session/AnsiText.vue'
import MarkdownContent from '../../components/session/MarkdownContent.vue'
import { parseAnsi } from '../../utils/ansi'
import { buildEmbedSnippet, initialsOf, withEmbedOptions } from '../../utils/format'
import { parseSessionPanels } from '../../utils/session-view'

/**
 * One request must never freeze the server: every parser and regular expression that sees user
 * or agent text gets hostile 100,000-character inputs (the limit of a text field) and must finish
 * each within a fixed bound. The bounds sit at least 10× above the times measured on the project's
 * 2-core machine under shared load (printed after the run); a quadratic parser takes seconds to
 * minutes on these inputs. Markdown and ANSI go through the real server render of their components.
 */

const N = 100_000
/** `unit` repeated to exactly `length` characters. */
const fill = (unit: string, length = N) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length)
const ESC = '\x1B'

/** Backtick runs of growing length (1, 2, 3 …): none closes another, so each code span searches. */
function risingBacktickRuns(length: number): string {
  let text = ''
  for (let run = 1; text.length < length; run++) text += `${'`'.repeat(run)}a`
  return text.slice(0, length)
}

/** A long answer as agents write it: headings, prose with emphasis and links, lists, code, tables. */
function agentMessage(length: number): string {
  const step = (n: number) => [
    `## Step ${n}: update \`stores/session.ts\``,
    '',
    `The **store** keeps one \`Map\` per session (see [the Pinia docs](https://pinia.vuejs.org/core-concepts/) and https://vuejs.org/guide/).`,
    `I renamed \`apply_batch\` to _applyBatch_ and kept ~~the old alias~~ a deprecation note; snake_case names like my_func_name stay.`,
    '',
    '- [x] read the reducer',
    '- [ ] run the tests',
    '  1. `npm test`',
    '  2. check the **coverage** report',
    '',
    '> Note: the offsets are strings, not numbers.',
    '',
    '```ts',
    `export function apply(state: State, batch: Change[]) { // step ${n}`,
    '  for (const change of batch) state.items[change.key] = change.value ?? null',
    '  return state.items.length * 2 + (state.offset ?? 0)',
    '}',
    '```',
    '',
    '| file | lines | change |',
    '|:-----|------:|:------:|',
    `| \`stores/session.ts\` | ${n * 7} | renamed |`,
    `| \`utils/reducer.ts\` | ${n * 3} | **new** |`,
    '',
  ].join('\n')
  let text = ''
  for (let n = 1; text.length < length; n++) text += step(n)
  return text.slice(0, length)
}

const MARKDOWN: Record<string, string> = {
  'heading with trailing spaces (old HEADING regex)': `# a${' '.repeat(N - 4)}b`,
  'bullet and ordered items ending in U+2028': `- a${'\u2028'.repeat(N / 2 - 4)}b\n1. a${'\u2028'.repeat(N / 2 - 6)}b`,
  'URL followed by dots (autolink trailing punctuation)': `https://a.b/${'.'.repeat(N - 13)}x`,
  'URL followed by &a; references': `see https://a.b/${fill('&a;', N - 17)}x`,
  'www. domain followed by dots': `www.a${'.'.repeat(N - 6)}x`,
  'URL followed by closing parentheses': `https://a.b/${')'.repeat(N - 12)}`,
  '*a repeated (emphasis)': fill('*a'),
  '**a repeated': fill('**a'),
  '_a repeated': fill('_a'),
  'a* repeated (unmatched closers)': fill('a* '),
  '* run, a, * run (nested emphasis)': `${'*'.repeat(N / 2 - 1)}a${'*'.repeat(N / 2)}`,
  '~a repeated (strikethrough)': fill('~a'),
  '[ repeated': '['.repeat(N),
  '] repeated': ']'.repeat(N),
  ']a repeated (label ends)': fill(']a'),
  '*] and _] repeated': fill('*]_]'),
  '[a]( repeated (unclosed links)': fill('[a]('),
  '[a](<b repeated (cmark #218)': fill('[a](<b'),
  'one long link destination': `[a](https://a.b/${'x'.repeat(N - 17)})`,
  'unclosed ( in a destination': `[a](${'('.repeat(N - 4)}`,
  '![ repeated (images)': fill('!['),
  '[![ nested image links': `${fill('[![', N / 2)}${fill('](x)', N / 2)}`,
  'backticks': '`'.repeat(N),
  'backtick runs of rising length': risingBacktickRuns(N),
  '< repeated': '<'.repeat(N),
  '<a and <!-- repeated (raw HTML)': fill('<a <!--'),
  'table with 25,000 columns': `|${fill('a|', N / 2)}\n|${fill('-|', N / 2 - 3)}`,
  'table with 8,000 rows': `| a | b |\n|---|---|\n${fill('| *x* | `y` |\n', N - 20)}`,
  '> repeated (quote depth)': '>'.repeat(N),
  '> > repeated': fill('> '),
  '- - repeated (list depth)': fill('- '),
  '1. 1. repeated': fill('1. '),
  '+ and * list markers repeated': fill('+ * '),
  'lists nested by indentation': Array.from({ length: 420 }, (_, i) => `${' '.repeat(i * 2)}- x`).join('\n').slice(0, N),
  '\\r repeated': '\r'.repeat(N),
  'paragraphs of one letter': fill('a\n\n'),
  '\\r\\n repeated': '\r\n'.repeat(N / 2),
  'one paragraph of 50,000 lines': fill('a\n'),
  'empty list items': fill('-\n'),
  'setext headings (a, =)': fill('a\n=\n'),
  '= lines': fill('=\n'),
  'empty ATX headings': fill('#\n'),
  '&a and &# (character references)': fill('&a&#'),
  'reference definitions and uses': `${fill('[a]: https://a.b\n', N / 2)}${fill('[a] ', N / 2)}`,
  'footnote calls': fill('[^a]'),
  'task list of 12,500 items': fill('- [ ] x\n'),
  'fences opening and closing': fill('```\n'),
  'escaped punctuation': fill('\\*\\[\\`'),
  'every delimiter at once': fill('*_~`[<'),
  'fence hidden by raw HTML': `<pre>\n\`\`\`\n</pre>\n${fill('*a', N - 20)}`,
  'fence inside a list item, then top-level text': `- a\n  \`\`\`\n\n${fill('*a', N - 12)}`,
  'a fence that is not one (backtick in info)': `\`\`\`a\`b\n${fill('*a', N - 8)}`,
  'fenced code of 50,000 short lines': `\`\`\`\n${fill('a\n', N - 4)}`,
  'fenced code blocks with prose between': fill('x\n```\ny\n```\n'),
  'emphasis inside fenced code (not counted)': `\`\`\`py\n${fill('my_func(*args, **kw) ~/x] `', N - 10)}\n\`\`\``,
  'realistic agent message': agentMessage(N),
}

const ANSI: Record<string, string> = {
  '\\r repeated, then text (old /\\r+\\n/ regex)': `${'\r'.repeat(N - 1)}x`,
  '\\r repeated, then \\n': `${'\r'.repeat(N - 1)}\n`,
  'progress bar: text and \\r repeated': fill('50%\r'),
  'ESC[ with endless parameters': `${ESC}[${fill('1;', N - 2)}`,
  'ESC[ with endless parameters, then m': `${ESC}[${fill('1;', N - 3)}m`,
  'unterminated OSC title': `${ESC}]0;${'a'.repeat(N - 4)}`,
  'ESC repeated': ESC.repeat(N),
  'ESC[ repeated': fill(`${ESC}[`),
  'SGR colour changes repeated': fill(`${ESC}[31ma${ESC}[0m`),
  'private and intermediate CSI repeated': fill(`${ESC}[>0c${ESC}[1 q${ESC}[?25l`),
  'control characters repeated': fill('\x00\x07\x08'),
  'OSC hyperlinks repeated': fill(`${ESC}]8;;https://a.b${ESC}\\x${ESC}]8;;${ESC}\\`),
}

interface Timing {
  parser: string
  input: string
  ms: number
}
const timings: Timing[] = []

/** Bounds, each at least 10× the slowest time of its group measured here. */
const BOUND_MS = { markdown: 10_000, ansi: 1_000, other: 500 }

async function measure(parser: string, input: string, bound: number, run: () => unknown): Promise<void> {
  const started = performance.now()
  await run()
  const ms = performance.now() - started
  timings.push({ parser, input, ms })
  expect(ms, `${parser}: ${input}`).toBeLessThan(bound)
}

const serverRender = (component: Component, props: Record<string, unknown>) =>
  renderToString(createSSRApp({ render: () => h(component, props) }))

afterAll(() => {
  const width = Math.max(...timings.map(timing => timing.input.length))
  console.log(['Hostile inputs, 100,000 characters each (ms):', ...timings.map(({ parser, input, ms }) =>
    `  ${parser.padEnd(10)} ${input.padEnd(width)} ${ms.toFixed(1).padStart(8)}`)].join('\n'))
})

describe('markdown: every hostile message renders on the server in bounded time', () => {
  for (const [input, source] of Object.entries(MARKDOWN)) {
    it(input, async () => {
      expect(source.length).toBeLessThanOrEqual(N)
      let html = ''
      await measure('markdown', input, BOUND_MS.markdown, async () => {
        html = await serverRender(MarkdownContent, { source })
      })
      expect(html.length).toBeGreaterThan(0)
      expect(html).not.toMatch(/<(script|iframe|img src="?x)/i)
    })
  }
})

describe('ANSI: every hostile terminal line renders on the server in bounded time', () => {
  for (const [input, text] of Object.entries(ANSI)) {
    it(input, async () => {
      expect(text.length).toBeLessThanOrEqual(N)
      await measure('ansi', input, BOUND_MS.ansi, () => serverRender(AnsiText, { text }))
      // Escape sequences never reach the page.
      expect(parseAnsi(text).some(segment => segment.text.includes(ESC))).toBe(false)
    })
  }
})

describe('every other parser of user or agent text stays linear', () => {
  const cases: Array<[string, () => unknown]> = [
    ['initials of a display name', () => initialsOf(fill(' .-a@'))],
    ['embed snippet of a title', () => buildEmbedSnippet({ src: 'https://a.b/embed', title: fill('"<&>') })],
    ['embed options of a URL', () => withEmbedOptions(`https://a.b/${fill('%2')}`, { panels: ['messages'], theme: 'dark' })],
    ['?panels= list', () => parseSessionPanels(fill(', '))],
    ['event schema: agentId, timestamp, text', () => SessionEventSchema.safeParse({
      channel: 'chunks',
      data: { id: 'c', sessionId: 's', agentId: fill('a:'), text: fill('*a'), timestamp: `2026-01-01T00:00:00.${'1'.repeat(N - 30)}Z+` },
    })],
    ['presence schema: avatar URL', () => PresenceBodySchema.safeParse({ userId: 'u', action: 'join', avatarUrl: `https://a.b/${fill('a.')}` })],
    ['session schema: title', () => CreateSessionBodySchema.safeParse({ title: `${' '.repeat(N - 1)}a` })],
    ['stream Content-Type', () => { try { normalizeContentType(`text/plain${fill(';a=b')}`) } catch {} }],
    ['stream Expires-At', () => { try { parseExpiry({ 'stream-expires-at': `2026-01-01T00:00:00.${'1'.repeat(N - 30)}` }) } catch {} }],
    ['SSE frame of a text stream', () => dataEvent({ json: false, contentType: 'text/plain' } as Parameters<typeof dataEvent>[0], [Buffer.from(fill('\r\n\r'))])],
  ]
  for (const [input, run] of cases) {
    it(input, () => measure('other', input, BOUND_MS.other, run))
  }
})
