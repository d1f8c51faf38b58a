import { defineConfig } from 'tsdown'

/**
 * Two entries: the SDK (no Node-only imports, so it runs in browsers too) and the CLI (the
 * terminal bridge, on node-pty). The app's shared schemas (../../shared/sessions) are bundled in,
 * so the published package imports nothing outside itself but its dependencies.
 */
export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
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
