import { mkdirSync, writeFileSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll } from 'vitest'
import type { TestContext } from 'vitest'

/**
 * Real Chromium for the end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core
 * (STACK.md: never `npx playwright install`). One browser per test file, a fresh context per user
 * per test; when a test fails, every page still open is saved to test-results/ as a PNG, with its
 * console and page errors next to it.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Desktop size of every page (and of the README screenshots). */
export const VIEWPORT = { width: 1280, height: 800 }
/** Playwright's own waits (locators, navigation): well under the test timeouts, so they fail first. */
export const ACTION_TIMEOUT_MS = 15_000
export const RESULTS_DIR = resolve('test-results')
export const SCREENSHOTS_DIR = resolve('docs/screenshots')
/** README screenshots are written only when asked for: they are tracked files, not test output. */
export const TAKE_README_SCREENSHOTS = process.env.E2E_SCREENSHOTS === '1'

export interface E2EBrowser {
  readonly browser: Browser
  /** A new browser context (one user: own storage, own identity) closed after the current test. */
  newContext: (options?: BrowserContextOptions) => Promise<BrowserContext>
  /** A page in a new context. */
  newPage: (options?: BrowserContextOptions) => Promise<Page>
  /** Uncaught errors of the pages of the current test, in order. */
  pageErrors: () => string[]
}

/**
 * Registers the hooks of an end-to-end file: launch Chromium once before its tests, close it
 * after them, and after each test save screenshots (on failure) and close its contexts.
 */
export function useBrowser(): E2EBrowser {
  let browser: Browser | undefined
  let contexts: BrowserContext[] = []
  let logs: string[] = []
  let errors: string[] = []

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 })
  })
  afterAll(async () => {
    await browser?.close()
  })
  afterEach(async (context: TestContext) => {
    const open = contexts
    contexts = []
    try {
      if (context.task.result?.state === 'fail') await saveFailure(context, open, logs)
    }
    finally {
      logs = []
      errors = []
      await Promise.all(open.map(entry => entry.close().catch(() => undefined)))
    }
  })

  const newContext = async (options: BrowserContextOptions = {}) => {
    if (!browser) throw new Error('Chromium is not running (useBrowser() registers its launch in beforeAll)')
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light', reducedMotion: 'reduce', ...options })
    context.setDefaultTimeout(ACTION_TIMEOUT_MS)
    context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS)
    const index = contexts.push(context)
    context.on('page', page => watchPage(page, index))
    return context
  }

  const watchPage = (page: Page, contextIndex: number) => {
    page.on('console', message => logs.push(`[context ${contextIndex}] console.${message.type()}: ${message.text()}`))
    page.on('pageerror', (error) => {
      errors.push(error.message)
      logs.push(`[context ${contextIndex}] pageerror: ${error.stack ?? error.message}`)
    })
  }

  return {
    get browser() {
      if (!browser) throw new Error('Chromium is not running')
      return browser
    },
    newContext,
    newPage: async options => (await newContext(options)).newPage(),
    pageErrors: () => [...errors],
  }
}

async function saveFailure(context: TestContext, open: BrowserContext[], logs: string[]): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = basename(context.task.file?.name ?? 'e2e').replace(/\.test\.ts$/, '')
  const stem = `${file}--${context.task.name}`.replace(/[^\w.-]+/g, '-').slice(0, 150)
  const saved: string[] = []
  for (const [contextIndex, browserContext] of open.entries()) {
    for (const [pageIndex, page] of browserContext.pages().entries()) {
      const path = resolve(RESULTS_DIR, `${stem}--context${contextIndex + 1}-page${pageIndex + 1}.png`)
      try {
        await page.screenshot({ path, fullPage: true, timeout: 5_000 })
        saved.push(`${path} (${page.url()})`)
      }
      catch (error) {
        saved.push(`${path}: no screenshot (${(error as Error).message.split('\n')[0]})`)
      }
    }
  }
  writeFileSync(resolve(RESULTS_DIR, `${stem}.log`), [...saved, '', ...logs].join('\n'))
  console.error(`E2E failure artefacts:\n  ${saved.join('\n  ')}\n  ${resolve(RESULTS_DIR, `${stem}.log`)}`)
}

/**
 * Saves a README screenshot (docs/screenshots/<name>.png) of a page, or of one element of it, when
 * E2E_SCREENSHOTS=1; returns its path or null.
 */
export async function readmeScreenshot(target: Page | Locator, name: string, options: { fullPage?: boolean } = {}): Promise<string | null> {
  if (!TAKE_README_SCREENSHOTS) return null
  mkdirSync(SCREENSHOTS_DIR, { recursive: true })
  const path = resolve(SCREENSHOTS_DIR, `${name}.png`)
  // Blinking carets and running animations would only add noise.
  const settings = { path, animations: 'disabled', caret: 'hide' } as const
  if ('goto' in target) await target.screenshot({ ...settings, fullPage: options.fullPage ?? false })
  else await target.screenshot(settings)
  return path
}

/** Texts of all elements a locator matches, whitespace collapsed. */
export async function textsOf(locator: Locator): Promise<string[]> {
  return (await locator.allTextContents()).map(text => text.replace(/\s+/g, ' ').trim())
}

/** How often `needle` occurs in `haystack` (non-overlapping). */
export function occurrences(haystack: string, needle: string): number {
  if (!needle) throw new Error('occurrences: empty needle')
  return haystack.split(needle).length - 1
}

/** Waits until `count` elements match (Playwright's locator.waitFor only knows "at least one"). */
export async function waitForCount(locator: Locator, expected: number | ((count: number) => boolean), what: string, timeoutMs = ACTION_TIMEOUT_MS): Promise<number> {
  const matches = typeof expected === 'number' ? (count: number) => count === expected : expected
  const deadline = Date.now() + timeoutMs
  let count = -1
  for (;;) {
    count = await locator.count()
    if (matches(count)) return count
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what} (last count: ${count})`)
    await new Promise(done => setTimeout(done, 50))
  }
}
