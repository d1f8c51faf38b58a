import { CONFORMANCE_ENV, runOfficialSuite } from '../support/conformance'
import { startServer } from '../support/server'

/** The official Durable Streams conformance suite against our built server on SQLite. */
runOfficialSuite(async () => {
  const server = await startServer({ env: CONFORMANCE_ENV })
  return { url: server.url, stop: () => server.stop() }
})
