import { CONFORMANCE_ENV, runOfficialSuite } from '../support/conformance'
import { createTestDatabase } from '../support/postgres'
import { startServer } from '../support/server'

/** The official Durable Streams conformance suite against our built server on PostgreSQL. */
runOfficialSuite(async () => {
  const server = await startServer({ env: { ...CONFORMANCE_ENV, NUXT_DURABLE_SESSIONS_DATABASE_URL: await createTestDatabase() } })
  return { url: server.url, stop: () => server.stop() }
})
