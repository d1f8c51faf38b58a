// Server render (node environment), as every viewer of a session page gets it.
import { afterAll, describe, expect, it } from 'vitest'
import { type Component, createSSRApp, h } from 'vue'
import { renderToString } from 'vue/server-renderer'
import { parseExpiry } from '../../server/streams/request'
import { isInertContentType, normalizeContentType } from '../../server/streams/content-type'
import { dataEvent } from '../../server/streams/sse'
import { clientKey } from '../../server/utils/client-address'
import { CreateSessionBodySchema, PresenceBodySchema } from '../../shared/sessions/api'
import { SessionEventSchema } from '../../shared/sessions/channels'
import AnsiText from '../../components/session/AnsiText.vue'
import MarkdownContent from '../../components/session/MarkdownContent.vue'
import { parseAnsi } from '../../lib/ansi'
import { buildEmbedSnippet, withEmbedOptions } from '../../lib/embed-snippet'
import { initialsOf } from '../../utils/format'
import { parseSessionPanels } from '../../lib/session-panels'
import { HOSTILE_ANSI, HOSTILE_MARKDOWN, fill } from '../support/hostile-inputs'

/**
 * One request must never freeze the server: every parser and regular expression that sees user
 * or agent text gets hostile 100,000-character inputs (the limit of a text field) and must finish
 * each within a fixed bound. The bounds sit at least 10× above the times measured on the project's
 * 2-core machine under shared load (printed after the run); a quadratic parser takes seconds to
 * minutes on these inputs. Markdown and ANSI go through the real server render of their components.
 */

const N = 100_000
const ESC = '\x1B'

interface Timing {
  parser: string
  input: string
  ms: number
}
const timings: Timing[] = []

/** Bounds, each at least 10× the slowest time of its group measured here. */
const BOUND_MS = { markdown: 5_000, ansi: 500, other: 500 }

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
  for (const [input, build] of Object.entries(HOSTILE_MARKDOWN)) {
    it(input, async () => {
      const source = build(N)
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
  for (const [input, build] of Object.entries(HOSTILE_ANSI)) {
    it(input, async () => {
      const text = build(N)
      expect(text.length).toBeLessThanOrEqual(N)
      await measure('ansi', input, BOUND_MS.ansi, () => serverRender(AnsiText, { text }))
      // Escape sequences never reach the page.
      expect(parseAnsi(text).some(segment => segment.text.includes(ESC))).toBe(false)
    })
  }
})

describe('every other parser of user or agent text stays linear', () => {
  const cases: Array<[string, () => unknown]> = [
    ['initials of a display name', () => initialsOf(fill(' .-a@', N))],
    ['embed snippet of a title', () => buildEmbedSnippet({ src: 'https://a.b/embed', title: fill('"<&>', N) })],
    ['embed options of a URL', () => withEmbedOptions(`https://a.b/${fill('%2', N)}`, { panels: ['messages'], theme: 'dark' })],
    ['?panels= list', () => parseSessionPanels(fill(', ', N))],
    ['event schema: agentId, timestamp, text', () => SessionEventSchema.safeParse({
      channel: 'chunks',
      data: { id: 'c', sessionId: 's', agentId: fill('a:', N), text: fill('*a', N), timestamp: `2026-01-01T00:00:00.${'1'.repeat(N - 30)}Z+` },
    })],
    ['presence schema: avatar URL', () => PresenceBodySchema.safeParse({ userId: 'u', action: 'join', avatarUrl: `https://a.b/${fill('a.', N)}` })],
    ['session schema: title', () => CreateSessionBodySchema.safeParse({ title: `${' '.repeat(N - 1)}a` })],
    ['stream Content-Type', () => { try { normalizeContentType(`text/plain${fill(';a=b', N)}`) } catch {} }],
    ['stream content type: inert or not', () => [isInertContentType(`application/${fill('a.', N)}`), isInertContentType(`audio/${fill('a+', N)}!`)]],
    ['client address from X-Forwarded-For', () => [clientKey(`${fill('1:', N)}x`), clientKey(fill('1234::', N)), clientKey(`${fill('1.', N)}1`)]],
    ['stream Expires-At', () => { try { parseExpiry({ 'stream-expires-at': `2026-01-01T00:00:00.${'1'.repeat(N - 30)}` }) } catch {} }],
    ['SSE frame of a text stream', () => dataEvent({ json: false, contentType: 'text/plain' } as Parameters<typeof dataEvent>[0], [Buffer.from(fill('\r\n\r', N))])],
  ]
  for (const [input, run] of cases) {
    it(input, () => measure('other', input, BOUND_MS.other, run))
  }
})
