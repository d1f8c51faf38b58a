import { defineConfig } from 'vitest/config'
import base from './vitest.config'

/**
 * Long reliability runs kept out of `npm test`: `*.long.ts` files under tests/reliability
 * (`npm run test:load`), one at a time, with nothing else competing for the machine.
 * The base config's include is replaced, not extended (mergeConfig would concatenate it).
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['tests/reliability/**/*.long.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
  },
})
