import { runConformanceTests } from '@durable-streams/server-conformance-tests'
import { afterAll, beforeAll } from 'vitest'
import { startServer } from '../support/server'
import type { TestServer } from '../support/server'

/**
 * The official Durable Streams conformance suite against our built server. Auth is off here
 * because the suite writes without credentials; auth has tests of its own.
 */
const LONG_POLL_TIMEOUT_MS = 2_000
const options = { baseUrl: '', longPollTimeoutMs: LONG_POLL_TIMEOUT_MS }
let server: TestServer

beforeAll(async () => {
  server = await startServer({
    env: { NUXT_STREAMS_AUTH: 'off', NUXT_STREAMS_LONG_POLL_TIMEOUT_MS: String(LONG_POLL_TIMEOUT_MS) },
  })
  options.baseUrl = server.url
})

afterAll(() => server?.stop())

runConformanceTests(options)
