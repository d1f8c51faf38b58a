import { createSSRApp, h } from 'vue'
import { renderToString } from 'vue/server-renderer'
import { parseAnsi } from '../../lib/ansi'
import { createMarkdownParser, parseMarkdown } from '../../lib/markdown'
import { renderMarkdown } from '../../components/session/markdown-render'
import { HOSTILE_ANSI, HOSTILE_MARKDOWN, agentMessage } from '../../tests/support/hostile-inputs'
import { median, round } from './stats'

/**
 * The server render of agent text, in this process (no server involved): every input of the
 * hostile corpus at 10,000 and 100,000 characters, Markdown parsed, turned into VNodes and
 * rendered to HTML by Vue's server renderer, ANSI parsed into segments. A linear renderer takes
 * about 10× as long for 10× the text; a quadratic one 100×. The production builds of micromark
 * and Vue run here (the tests run their development builds, with assertions).
 */

export const RENDER_SIZES = { small: 10_000, large: 100_000 }

export interface RenderTiming {
  input: string
  /** Median milliseconds at RENDER_SIZES.small and .large. */
  smallMs: number
  largeMs: number
  ratio: number
}

export interface RenderResult {
  /** Every Markdown input, slowest at 100k first. */
  markdown: RenderTiming[]
  /** Every ANSI input, slowest at 100k first. */
  ansi: RenderTiming[]
  streaming: StreamingTiming
}

/** An agent message parsed after every token, as the viewer does while it streams. */
export interface StreamingTiming {
  chars: number
  tokens: number
  /** Parsing the whole message again for every token. */
  wholeMessageMs: number
  /** `createMarkdownParser`: only the section a token changed. */
  changedSectionMs: number
}

const STREAMING = { chars: 20_000, tokenChars: 8 }

const SAMPLES = { small: 7, large: 3 }

async function renderMarkdownToHtml(source: string): Promise<void> {
  await renderToString(createSSRApp({ render: () => h('div', renderMarkdown(source)) }))
}

/** Median ms per call over `samples` samples, each repeating the call for at least 20 ms (a timer tick is too coarse for one). */
async function timeMedian(samples: number, fn: () => unknown): Promise<number> {
  let started = performance.now()
  await fn()
  const repeat = Math.max(1, Math.ceil(20 / Math.max(performance.now() - started, 0.01)))
  const times: number[] = []
  for (let i = 0; i < samples; i++) {
    started = performance.now()
    for (let call = 0; call < repeat; call++) await fn()
    times.push((performance.now() - started) / repeat)
  }
  return median(times)
}

async function scaling(corpus: Record<string, (length: number) => string>, render: (text: string) => unknown): Promise<RenderTiming[]> {
  const timings: RenderTiming[] = []
  for (const [input, build] of Object.entries(corpus)) {
    const small = build(RENDER_SIZES.small)
    const large = build(RENDER_SIZES.large)
    const smallMs = await timeMedian(SAMPLES.small, () => render(small))
    const largeMs = await timeMedian(SAMPLES.large, () => render(large))
    timings.push({ input, smallMs: round(smallMs, 2), largeMs: round(largeMs, 2), ratio: round(largeMs / smallMs, 1) })
  }
  return timings.sort((a, b) => b.largeMs - a.largeMs)
}

function streamingParse(): StreamingTiming {
  const message = agentMessage(STREAMING.chars)
  const prefixes: string[] = []
  for (let end = STREAMING.tokenChars; end < message.length + STREAMING.tokenChars; end += STREAMING.tokenChars) prefixes.push(message.slice(0, end))
  let started = performance.now()
  for (const text of prefixes) parseMarkdown(text)
  const wholeMessageMs = performance.now() - started
  const parse = createMarkdownParser()
  started = performance.now()
  for (const text of prefixes) parse(text)
  const changedSectionMs = performance.now() - started
  return { chars: message.length, tokens: prefixes.length, wholeMessageMs: round(wholeMessageMs), changedSectionMs: round(changedSectionMs) }
}

export async function renderScaling(): Promise<RenderResult> {
  return {
    markdown: await scaling(HOSTILE_MARKDOWN, renderMarkdownToHtml),
    ansi: await scaling(HOSTILE_ANSI, parseAnsi),
    streaming: streamingParse(),
  }
}
