import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { drizzle } from 'drizzle-orm/postgres-js'
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import type { Sql } from 'postgres'

export type PgDatabase = PostgresJsDatabase<Record<string, never>>

/** Key of the advisory lock migrations hold, so instances starting together migrate one at a time. */
const MIGRATION_LOCK = 7_190_431_001

export interface PostgresOptions {
  /** Connections in the pool (NUXT_DURABLE_SESSIONS_DATABASE_POOL_SIZE). */
  max: number
}

/**
 * A postgres.js pool. Its int8 columns (positions, times in ms) arrive as numbers: they stay
 * far below 2^53. Notices (e.g. "relation already exists") are not logged.
 */
export function connectPostgres(url: string, options: PostgresOptions): Sql {
  return postgres(url, {
    max: options.max,
    onnotice: () => {},
    connection: { application_name: 'durable-sessions' },
    types: { bigint: { to: 20, from: [20], parse: (value: string) => Number(value), serialize: (value: number) => String(value) } },
  })
}

export function drizzlePostgres(sql: Sql): PgDatabase {
  return drizzle(sql)
}

/**
 * Applies drizzle-kit migrations given as `{ relative path: content }` (bundled at build time)
 * through drizzle's migrator, on one connection holding an advisory lock: instances that start
 * together wait for each other instead of applying the same migration twice.
 */
export async function migratePostgres(url: string, files: Record<string, string>): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'ds-pg-migrations-'))
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    for (const [path, content] of Object.entries(files)) {
      const target = join(folder, path)
      mkdirSync(dirname(target), { recursive: true })
      writeFileSync(target, content)
    }
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`
    await migrate(drizzle(sql), { migrationsFolder: folder })
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`
  }
  finally {
    await sql.end()
    rmSync(folder, { recursive: true, force: true })
  }
}
