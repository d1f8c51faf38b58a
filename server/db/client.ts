import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'

export type Synchronous = 'normal' | 'full'

/** Drizzle over the connection; `$client` is the better-sqlite3 handle underneath. */
export type AppDatabase = BetterSQLite3Database<Record<string, never>> & { $client: Database.Database }

export interface OpenDatabase {
  sqlite: Database.Database
  db: AppDatabase
}

/**
 * Opens the SQLite file in WAL mode. With `synchronous=normal` a commit is in the WAL (the OS
 * page cache) before it returns, which survives a killed process; `full` also fsyncs each
 * commit, which survives power loss at the cost of write throughput.
 */
export function openDatabase(file: string, synchronous: Synchronous): OpenDatabase {
  mkdirSync(dirname(file), { recursive: true })
  const sqlite = new Database(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
  sqlite.pragma('busy_timeout = 5000')
  return { sqlite, db: drizzle(sqlite) }
}

/**
 * Applies drizzle-kit migrations given as `{ relative path: content }` (bundled into the server
 * at build time), through drizzle's own migrator and its bookkeeping table.
 */
export function applyMigrations(db: OpenDatabase['db'], files: Record<string, string>, scratchDir: string): void {
  rmSync(scratchDir, { recursive: true, force: true })
  for (const [path, content] of Object.entries(files)) {
    const target = join(scratchDir, path)
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, content)
  }
  migrate(db, { migrationsFolder: scratchDir })
  rmSync(scratchDir, { recursive: true, force: true })
}
