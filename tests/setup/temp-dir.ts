import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Vitest global setup: the run's temporary files (data dirs of test servers, PTY scratch dirs,
 * PostgreSQL's data) go into one directory, deleted when the run ends. Setting TMPDIR here, before
 * the workers start, reaches every `os.tmpdir()` of the tests and of the servers they spawn, so a
 * developer's /tmp does not fill up with thousands of `ds-test-*` dirs over a few runs.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'ds-run-'))
  // Like /tmp, open to other users: PostgreSQL runs as its own user and reads files made here.
  chmodSync(root, 0o1777)
  process.env.TMPDIR = root
  return () => rmSync(root, { recursive: true, force: true })
}
