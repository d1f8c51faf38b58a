import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Sql } from 'postgres'
import { applyMigrations, openDatabase } from '../../server/db/client'
import { readMigrationFiles } from '../../server/db/migration-files'
import { connectPostgres, migratePostgres } from '../../server/db/pg/client'
import { PostgresStreamStorage } from '../../server/streams/postgres-store'
import { ProtocolStreamStore } from '../../server/streams/protocol-store'
import { SqliteStreamStorage } from '../../server/streams/sqlite-store'
import { createTestDatabase } from './postgres'

/**
 * The stream engine itself (no HTTP) on a real database, with a clock the test moves: the same
 * ProtocolStreamStore over SQLite or over PostgreSQL, so one suite checks both backends.
 */
export interface EngineUnderTest {
  store: ProtocolStreamStore
  /** The clock the store reads (ms); tests move it. */
  clock: { now: number }
  /** Another store on the same database (PostgreSQL: another instance). */
  another: () => Promise<ProtocolStreamStore>
  close: () => Promise<void>
}

export type Backend = 'sqlite' | 'postgres'

export async function openEngine(backend: Backend): Promise<EngineUnderTest> {
  const clock = { now: Date.UTC(2026, 0, 1) }
  const now = () => clock.now
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ds-engine-'))
    const database = openDatabase(join(dir, 'sessions.sqlite'), 'normal')
    applyMigrations(database.db, readMigrationFiles('server/db/migrations'), join(dir, '.migrations'))
    const store = new ProtocolStreamStore(new SqliteStreamStorage(database.db), { now })
    return {
      store,
      clock,
      another: () => Promise.reject(new Error('SQLite has one writer process')),
      close: async () => {
        await store.dispose()
        database.sqlite.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const url = await createTestDatabase()
  await migratePostgres(url, readMigrationFiles('server/db/pg/migrations'))
  const opened: Array<{ store: ProtocolStreamStore, client: Sql }> = []
  const open = async () => {
    const client = connectPostgres(url, { max: 4 })
    const storage = new PostgresStreamStorage(client, url)
    const store = new ProtocolStreamStore(storage, { now })
    await storage.listening
    opened.push({ store, client })
    return store
  }
  return {
    store: await open(),
    clock,
    another: open,
    close: async () => {
      for (const { store, client } of opened) {
        await store.dispose()
        await client.end()
      }
    },
  }
}
