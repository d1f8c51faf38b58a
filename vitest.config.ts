import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  // Compiles .vue files for component tests (tests/components); other tests never import one.
  plugins: [vue()],
  test: {
    include: ['tests/**/*.test.ts'],
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
