import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The README's AI SDK snippets are real files: the server route and the Vue page a team would copy
 * live in tests/fixtures/layer-app, where `npm test` type-checks and builds them (and
 * tests/e2e/layer-app.test.ts drives the page). A README block names its file on its first line.
 */

const ROOT = resolve(import.meta.dirname, '../..')
const FIXTURE = resolve(ROOT, 'tests/fixtures/layer-app')
const README = readFileSync(resolve(ROOT, 'README.md'), 'utf8')

/** The README's code block whose first line names `file` (`// file` or `<!-- file -->`), without that line. */
function readmeBlock(file: string): string {
  const blocks = [...README.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map(match => match[1]!)
  const named = blocks.filter(block => [`// ${file}`, `<!-- ${file} -->`].includes(block.split('\n', 1)[0]!))
  expect(named, `README blocks naming ${file}`).toHaveLength(1)
  return named[0]!.slice(named[0]!.indexOf('\n') + 1)
}

describe('the README\'s AI SDK snippets', () => {
  for (const file of ['server/api/support-sessions.post.ts', 'app/pages/ask/[id].vue']) {
    it(`${file} is the fixture app's file, as written`, () => {
      expect(readmeBlock(file)).toBe(readFileSync(resolve(FIXTURE, file), 'utf8'))
    })
  }
})
