import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readmeScreenshot, useBrowser } from '../support/browser'
import type { TestServer } from '../support/server'
import { createSession, publish, startSessionServer } from '../support/sessions'

/**
 * An agent's GitHub Flavored Markdown as a viewer sees it in Chromium: tables, task lists,
 * strikethrough, nested emphasis, fenced code and bare URLs, styled with the theme's tokens in
 * both themes. With E2E_SCREENSHOTS=1 the message is saved for the README: docs/screenshots/markdown-gfm.png
 * and markdown-gfm-dark.png.
 */

const e2e = useBrowser()
let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(async () => {
  await server?.stop()
})

const MESSAGE = [
  '#### Refactor plan',
  '',
  'The **session store** now keeps *one* `Map` per session — see https://pinia.vuejs.org/core-concepts/ and',
  '[Vue.js (framework)](https://en.wikipedia.org/wiki/Vue.js_(framework)) for background.',
  '',
  '| Step | File | Status |',
  '|:----:|:-----|:-------|',
  '| 1 | `stores/session.ts` | **done** |',
  '| 2 | `utils/reducer.ts` | ~~blocked~~ in review |',
  '| 3 | `components/MessageList.vue` | pending |',
  '',
  '- [x] Move the reducer to `shared/`',
  '- [x] Keep ***one*** subscription per tab',
  '- [ ] Remove the ~~legacy~~ polling fallback',
  '',
  '```ts',
  'export function applyBatch(state: State, batch: Change[]): State {',
  '  for (const change of batch) state = apply(state, change)',
  '  return state',
  '}',
  '```',
  '',
  '> Offsets are opaque strings: compare them, never parse them.',
].join('\n')

/** The message, streamed the way agents send it: a few chunks of one turn. */
async function postMessage(agentId: string): Promise<string> {
  const session = await createSession(server, { title: 'Markdown from an agent', agentId })
  const chunks = MESSAGE.match(/[\s\S]{1,120}/g)!
  await publish(server, session, chunks.map(text => ({ channel: 'chunks', data: { agentId: session.agentId, text, turn: 1 } })))
  return `${server.url}/sessions/${session.id}`
}

/** A CSS custom property of the theme, resolved to the `rgb()` form computed styles use. */
async function themeColor(page: Page, property: string): Promise<string> {
  return page.evaluate((name) => {
    const probe = document.createElement('span')
    probe.style.color = `var(${name})`
    document.querySelector('.ds-theme')!.append(probe)
    const color = getComputedStyle(probe).color
    probe.remove()
    return color
  }, property)
}

describe('an agent message in GitHub Flavored Markdown', () => {
  for (const colorScheme of ['light', 'dark'] as const) {
    it(`renders as a reader expects, in the ${colorScheme} theme`, { timeout: 60_000 }, async () => {
      const page = await e2e.newPage({ colorScheme })
      await page.goto(await postMessage(colorScheme === 'light' ? 'coder' : 'coder-dark'))
      const message = page.getByTestId('message')
      await message.locator('table').waitFor()

      // The table: header, three rows, centred first column.
      expect(await message.locator('thead th').allInnerTexts()).toEqual(['Step', 'File', 'Status'])
      expect(await message.locator('tbody tr').count()).toBe(3)
      expect(await message.locator('tbody tr').nth(1).locator('td').allInnerTexts()).toEqual(['2', 'utils/reducer.ts', 'blocked in review'])
      expect(await message.locator('tbody td').first().evaluate(td => getComputedStyle(td).textAlign)).toBe('center')
      // Task list: disabled checkboxes, two of three ticked.
      const boxes = message.locator('li.md-task input[type="checkbox"]')
      expect(await boxes.count()).toBe(3)
      expect(await boxes.evaluateAll(inputs => inputs.map(input => [(input as HTMLInputElement).checked, (input as HTMLInputElement).disabled]))).toEqual([[true, true], [true, true], [false, true]])
      // Strikethrough, nested emphasis, code with its language, links (bare, and with `)` in the URL).
      expect(await message.locator('del').allInnerTexts()).toEqual(['blocked', 'legacy'])
      expect(await message.locator('strong > em, em > strong').allInnerTexts()).toEqual(['one'])
      expect(await message.locator('pre code.language-ts').innerText()).toContain('for (const change of batch)')
      expect(await message.locator('a').evaluateAll(links => links.map(link => link.getAttribute('href')))).toEqual([
        'https://pinia.vuejs.org/core-concepts/',
        'https://en.wikipedia.org/wiki/Vue.js_(framework)',
      ])
      expect(await message.locator('blockquote').innerText()).toBe('Offsets are opaque strings: compare them, never parse them.')

      // Styled with the theme's tokens, in either theme.
      const border = await themeColor(page, '--ds-border')
      const surface = await themeColor(page, '--ds-surface')
      const codeBackground = await themeColor(page, '--ds-code-bg')
      const accent = await themeColor(page, '--ds-accent')
      expect(await message.locator('thead th').first().evaluate(th => [getComputedStyle(th).borderTopColor, getComputedStyle(th).backgroundColor])).toEqual([border, surface])
      expect(await message.locator('.md-code-block').evaluate(block => getComputedStyle(block).backgroundColor)).toBe(codeBackground)
      expect(await boxes.evaluateAll(inputs => inputs.map(input => getComputedStyle(input).backgroundColor))).toEqual([accent, accent, await themeColor(page, '--ds-bg')])
      expect(await message.locator('a').first().evaluate(link => getComputedStyle(link).color)).toBe(accent)
      expect(e2e.pageErrors()).toEqual([])

      await readmeScreenshot(message, colorScheme === 'light' ? 'markdown-gfm' : 'markdown-gfm-dark')
    })
  }
})
