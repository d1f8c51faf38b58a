import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { parse as parseSfc } from 'vue/compiler-sfc'
import { describe, expect, it } from 'vitest'

/**
 * The import graph of README's Architecture section, checked on every import of every file:
 *
 *   app.vue, error.vue, pages/, plugins/
 *     → components/ → composables/ → sync/ → stores/ → transport/ → lib/, utils/ → shared/
 *
 * A file imports its own folder and folders further right, never one to its left or beside it.
 * The server and the agent SDK stand apart: they import shared/ (and the SDK lib/), never the
 * Vue client. Imports are read by TypeScript's own scanner (value, type and dynamic imports), from
 * the <script> blocks of .vue files as Vue's SFC parser finds them.
 */

const ROOT = resolve(import.meta.dirname, '../..')

/** Left to right: a folder may import the folders of later levels. */
const LEVELS: string[][] = [
  ['app', 'pages', 'plugins'],
  ['components'],
  ['composables'],
  ['sync'],
  ['stores'],
  ['transport'],
  ['lib', 'utils'],
  ['shared'],
]
const CLIENT = LEVELS.flat()

/** Packages and Nuxt aliases a folder may not use, on top of the graph. */
const FORBIDDEN_PACKAGES: Record<string, RegExp> = {
  // Pure TypeScript: no Vue, no Pinia, no Nuxt (so no auto-imports either).
  lib: /^(vue|pinia|@vueuse\/|nuxt|#)/,
  utils: /^(vue|pinia|@vueuse\/|nuxt|#)/,
  shared: /^(vue|pinia|@vueuse\/|nuxt|#)/,
  // Below the composables nothing depends on Nuxt: they run in any Vue app and in tests.
  transport: /^(pinia|nuxt|#imports|#app|#components)/,
  stores: /^(nuxt|#imports|#app|#components)/,
  sync: /^(nuxt|#imports|#app|#components)/,
  components: /^(nuxt|#imports|#app|pinia)/,
}

/**
 * Aliases that point into the app extending this layer, not into the layer: `~`, `@` and `#shared`
 * are the root app's. Layer code reaches its own shared/ through `#layers/durable-sessions`.
 */
const ROOT_APP_ALIASES = /^(~|@\/|~~|@@|#shared)/

function filesUnder(folder: string, extensions = /\.(ts|vue)$/): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter(file => extensions.test(file) && !file.endsWith('.d.ts') && !file.includes('node_modules'))
    .map(file => join(folder, file))
}

const clientFiles = [
  'app.vue',
  'error.vue',
  ...['pages', 'plugins', 'components', 'composables', 'sync', 'stores', 'transport', 'lib', 'utils', 'shared'].flatMap(folder => filesUnder(folder)),
]

/** A file's TypeScript, and for a .vue file its template. */
function sourceOf(file: string): { scripts: string[], template: string } {
  const text = readFileSync(join(ROOT, file), 'utf8')
  if (!file.endsWith('.vue')) return { scripts: [text], template: '' }
  const { descriptor } = parseSfc(text, { filename: file })
  return { scripts: [descriptor.script?.content ?? '', descriptor.scriptSetup?.content ?? ''], template: descriptor.template?.content ?? '' }
}

/** Every module specifier a file imports (import, import type, export … from, import()). */
function importsOf(file: string): string[] {
  return sourceOf(file).scripts.flatMap(script => ts.preProcessFile(script, true, true).importedFiles.map(entry => entry.fileName))
}

/** Names a file calls as plain functions, `name(…)`, in its code (comments aside) and its template. */
function callsOf(file: string): Set<string> {
  const { scripts, template } = sourceOf(file)
  const called = new Set<string>()
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) called.add(node.expression.text)
    ts.forEachChild(node, visit)
  }
  for (const script of scripts) visit(ts.createSourceFile(file, script, ts.ScriptTarget.Latest, true))
  for (const match of template.replace(/<!--[\s\S]*?-->/g, '').matchAll(/(?<![\w.$])([A-Za-z_$][\w$]*)\(/g)) called.add(match[1]!)
  return called
}

/** Names a file binds by import. */
function importedNamesOf(file: string): Set<string> {
  const names = new Set<string>()
  for (const script of sourceOf(file).scripts) {
    for (const statement of ts.createSourceFile(file, script, ts.ScriptTarget.Latest).statements) {
      const clause = ts.isImportDeclaration(statement) ? statement.importClause : undefined
      if (clause?.name) names.add(clause.name.text)
      if (clause?.namedBindings && ts.isNamedImports(clause.namedBindings)) for (const element of clause.namedBindings.elements) names.add(element.name.text)
    }
  }
  return names
}

/** The folder of the project a file belongs to (`app` for app.vue and error.vue). */
function folderOf(path: string): string {
  const first = path.split('/')[0]!
  if (first === 'app.vue' || first === 'error.vue') return 'app'
  if (path.startsWith('packages/agent/')) return 'packages/agent'
  return first
}

/** The project folder an import points to, or undefined for a package. */
function targetOf(file: string, specifier: string): string | undefined {
  if (specifier === '#components') return 'components'
  if (specifier.startsWith('#layers/durable-sessions/')) return folderOf(specifier.slice('#layers/durable-sessions/'.length))
  if (specifier.startsWith('.')) return folderOf(relative(ROOT, resolve(ROOT, dirname(file), specifier)))
  return undefined
}

const levelOf = (folder: string) => LEVELS.findIndex(level => level.includes(folder))

function violations(files: string[], allowed: (from: string, to: string) => boolean): string[] {
  const found: string[] = []
  for (const file of files) {
    const from = folderOf(file)
    for (const specifier of importsOf(file)) {
      if (ROOT_APP_ALIASES.test(specifier)) found.push(`${file} imports ${specifier}: an alias of the app that extends this layer`)
      const to = targetOf(file, specifier)
      if (to === undefined) {
        if (FORBIDDEN_PACKAGES[from]?.test(specifier)) found.push(`${file} (${from}/) imports ${specifier}`)
      }
      else if (to !== from && !allowed(from, to)) {
        found.push(`${file} (${from}/) imports ${specifier} (${to}/)`)
      }
    }
  }
  return found
}

describe('the import graph', () => {
  it('knows every client file and reads their imports', () => {
    expect(clientFiles.length).toBeGreaterThan(70)
    for (const folder of CLIENT.filter(folder => folder !== 'app')) expect(clientFiles.some(file => folderOf(file) === folder), folder).toBe(true)
    // The scanner sees type imports, #components and imports in .vue script blocks.
    expect(importsOf('components/session/SessionViewerLayout.vue')).toEqual(expect.arrayContaining(['#components', '../../transport/live-stream']))
  })

  it('points one way in the client: no folder imports one to its left or beside it', () => {
    expect(violations(clientFiles, (from, to) => CLIENT.includes(to) && levelOf(to) > levelOf(from))).toEqual([])
  })

  it('keeps the server and the agent SDK off the Vue client', () => {
    const server = filesUnder('server').filter(file => !file.includes('/migrations/'))
    const sdk = filesUnder('packages/agent/src')
    // The demo agent in the server is written on the SDK, like any agent.
    expect(violations(server, (_, to) => to === 'shared' || to === 'packages/agent')).toEqual([])
    expect(violations(sdk, (_, to) => to === 'shared' || to === 'lib')).toEqual([])
  })

  it('uses the project\'s own auto-imports nowhere in the project: every use is an import the graph can see', () => {
    // What Nuxt auto-imports from this project: the exports of composables/, utils/ and stores/.
    const autoImported = ['composables', 'utils', 'stores'].flatMap(folder => filesUnder(folder, /\.ts$/))
      .flatMap(file => [...readFileSync(join(ROOT, file), 'utf8').matchAll(/^export (?:async )?(?:function|const|class) (\w+)/gm)].map(match => ({ name: match[1]!, file })))
    expect(autoImported.length).toBeGreaterThan(5)
    const unimported: string[] = []
    for (const file of [...clientFiles, ...filesUnder('server')]) {
      const called = callsOf(file)
      const imported = importedNamesOf(file)
      for (const { name, file: home } of autoImported) {
        if (home !== file && called.has(name) && !imported.has(name)) unimported.push(`${file} calls ${name} (${home}) without importing it`)
      }
    }
    expect(unimported).toEqual([])
  })
})
