// Ad-hoc accessibility check (not part of the project): axe-core on the pages this change adds or alters.
import { readFileSync } from 'node:fs'
import { chromium } from 'playwright-core'

const base = process.argv[2]!
const session = JSON.parse(process.argv[3]!) as { id: string, collaboratorKey: string }
const axe = readFileSync('/tmp/axe/node_modules/axe-core/axe.min.js', 'utf8')
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] })
for (const colorScheme of ['light', 'dark'] as const) {
  for (const [name, url] of [
    ['home', `${base}/`],
    ['viewer (collaborator)', `${base}/sessions/${session.id}?key=${session.collaboratorKey}`],
    ['viewer (read-only)', `${base}/sessions/${session.id}`],
    ['chat (collaborator)', `${base}/sessions/${session.id}/chat?key=${session.collaboratorKey}`],
    ['chat (read-only)', `${base}/sessions/${session.id}/chat`],
  ] as const) {
    const context = await browser.newContext({ bypassCSP: true, colorScheme, viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    await page.goto(url)
    await page.waitForTimeout(1500)
    await page.addScriptTag({ content: axe })
    const result = await page.evaluate(async () => (window as any).axe.run(document, { resultTypes: ['violations'] }))
    console.log(`${colorScheme} ${name}: ${result.violations.length} violations`)
    for (const v of result.violations) console.log(`  ${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n: any) => n.target.join(' ')).join(' | ')}`)
    await context.close()
  }
}
await browser.close()
