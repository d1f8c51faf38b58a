import { runConformanceTests } from '@durable-streams/server-conformance-tests'
import fc from 'fast-check'
import { afterAll, beforeAll } from 'vitest'

/**
 * The official Durable Streams conformance suite against a server this file starts. Auth is off
 * there because the suite writes without credentials (auth has tests of its own), and long-polls
 * time out after 2 s (the suite's offset=now long-poll tests wait for that inside a 5 s test).
 *
 * The suite's property tests draw from fast-check without a seed of their own; one fixed,
 * printed seed (the same fast-check module serves them) makes every run draw the same cases.
 */
export const CONFORMANCE_LONG_POLL_TIMEOUT_MS = 2_000
export const CONFORMANCE_ENV = { NUXT_DURABLE_SESSIONS_STREAMS_AUTH: 'off', NUXT_DURABLE_SESSIONS_STREAMS_LONG_POLL_TIMEOUT_MS: String(CONFORMANCE_LONG_POLL_TIMEOUT_MS) }
const SEED = 20_261_126

export function runOfficialSuite(start: () => Promise<{ url: string, stop: () => Promise<void> }>): void {
  const options = { baseUrl: '', longPollTimeoutMs: CONFORMANCE_LONG_POLL_TIMEOUT_MS }
  let stop: (() => Promise<void>) | undefined

  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: SEED })
  console.info(`[conformance] fast-check seed ${SEED}`)

  beforeAll(async () => {
    const started = await start()
    options.baseUrl = started.url
    stop = started.stop
  })
  afterAll(() => stop?.())

  runConformanceTests(options)
}
