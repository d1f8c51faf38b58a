import { runConformanceTests } from '@durable-streams/server-conformance-tests'
import fc from 'fast-check'
import { afterAll, beforeAll } from 'vitest'
import { startServer } from '../support/server'
import type { TestServer } from '../support/server'

/**
 * The official Durable Streams conformance suite against our built server. Auth is off here
 * because the suite writes without credentials; auth has tests of its own.
 *
 * The suite's property tests draw from fast-check without a seed of their own; one fixed,
 * printed seed (the same fast-check module serves them) makes every run draw the same cases.
 */
const LONG_POLL_TIMEOUT_MS = 2_000
const SEED = 20_261_126
const options = { baseUrl: '', longPollTimeoutMs: LONG_POLL_TIMEOUT_MS }
let server: TestServer

fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: SEED })
console.info(`[conformance] fast-check seed ${SEED}`)

beforeAll(async () => {
  server = await startServer({
    env: { NUXT_DURABLE_SESSIONS_STREAMS_AUTH: 'off', NUXT_DURABLE_SESSIONS_STREAMS_LONG_POLL_TIMEOUT_MS: String(LONG_POLL_TIMEOUT_MS) },
  })
  options.baseUrl = server.url
})

afterAll(() => server?.stop())

runConformanceTests(options)
