import { defineConfig } from 'tsdown'

/**
 * The SDK (`.`), its AI SDK adapters (`./ai` for the agent's side, `./chat` the browser's
 * ChatTransport) — none with Node-only imports, so they run in browsers too — and the CLI (the
 * terminal bridge, on node-pty). The app's shared schemas (../../shared/sessions) are bundled in,
 * so the published package imports nothing outside itself but its dependencies; `ai` is a peer
 * dependency that only `./ai` and `./chat` use (`./chat` for its types only).
 */
export default defineConfig([
  {
    entry: { index: 'src/index.ts', ai: 'src/ai/index.ts', chat: 'src/chat/index.ts' },
    format: 'esm',
    platform: 'neutral',
    dts: true,
    clean: true,
  },
  {
    entry: { cli: 'src/cli.ts' },
    format: 'esm',
    platform: 'node',
    dts: false,
    clean: false,
  },
])
