/// <reference path="../db/migrations.d.ts" />
import { join, resolve } from 'node:path'
import { sql } from 'drizzle-orm'
import migrationFiles from '#db-migrations'
import pgMigrationFiles from '#db-pg-migrations'
import { applyMigrations, openDatabase } from '../db/client'
import type { Synchronous } from '../db/client'
import { connectPostgres, drizzlePostgres, migratePostgres } from '../db/pg/client'
import { MemoryLimitCounters } from '../sessions/limits'
import type { LimitCounters } from '../sessions/limits'
import { PostgresLimitCounters } from '../sessions/postgres-limits'
import { PostgresSessionRepository } from '../sessions/postgres-repository'
import type { SessionRepository } from '../sessions/repository'
import { SqliteSessionRepository } from '../sessions/sqlite-repository'
import { PostgresStreamStorage } from '../streams/postgres-store'
import { ProtocolStreamStore } from '../streams/protocol-store'
import { SqliteStreamStorage } from '../streams/sqlite-store'
import type { StreamStore } from '../streams/store'

/** Everything the app keeps, on the database it was configured with. */
export interface Backend {
  kind: 'sqlite' | 'postgres'
  streams: StreamStore
  sessions: SessionRepository
  /** Rate-limit and presence-limit counters. */
  limits: LimitCounters
  /** Resolves once the database is migrated and (PostgreSQL) other instances' commits are heard. */
  ready: Promise<void>
  /** Resolves when the database answers a query (health checks). */
  ping: () => Promise<void>
  close: () => Promise<void>
}

let backend: Backend | undefined

/** The data directory (NUXT_DURABLE_SESSIONS_DATA_DIR): the SQLite file and generated secrets live here. */
export function useDataDir(): string {
  return resolve(useRuntimeConfig().durableSessions.dataDir)
}

/** Whether NUXT_DURABLE_SESSIONS_DATABASE_URL points the app at PostgreSQL. */
export function usesPostgres(): boolean {
  return Boolean(useRuntimeConfig().durableSessions.databaseUrl)
}

/** The app's database: PostgreSQL when NUXT_DURABLE_SESSIONS_DATABASE_URL is set, otherwise the SQLite file. */
export function useBackend(): Backend {
  backend ??= usesPostgres() ? openPostgres(useRuntimeConfig().durableSessions.databaseUrl) : openSqlite()
  return backend
}

export async function closeBackend(): Promise<void> {
  const closing = backend
  backend = undefined
  await closing?.close()
}

/** The SQLite file `<data dir>/sessions.sqlite`: one process owns it. Migrated before it is used. */
function openSqlite(): Backend {
  const dataDir = useDataDir()
  const database = openDatabase(join(dataDir, 'sessions.sqlite'), useRuntimeConfig().durableSessions.sqliteSynchronous as Synchronous)
  applyMigrations(database.db, migrationFiles, join(dataDir, '.migrations'))
  const streams = new ProtocolStreamStore(new SqliteStreamStorage(database.db))
  return {
    kind: 'sqlite',
    streams,
    sessions: new SqliteSessionRepository(database.db),
    limits: new MemoryLimitCounters(),
    ready: Promise.resolve(),
    ping: async () => {
      database.db.get(sql`select 1`)
    },
    close: async () => {
      await streams.dispose()
      database.sqlite.close()
    },
  }
}

/** A PostgreSQL database shared with any number of instances; requests wait for `ready`. */
function openPostgres(url: string): Backend {
  const client = connectPostgres(url, { max: Number(useRuntimeConfig().durableSessions.databasePoolSize) })
  const storage = new PostgresStreamStorage(client, url)
  const streams = new ProtocolStreamStore(storage)
  return {
    kind: 'postgres',
    streams,
    sessions: new PostgresSessionRepository(drizzlePostgres(client), client),
    limits: new PostgresLimitCounters(client),
    ready: Promise.all([migratePostgres(url, pgMigrationFiles), storage.listening]).then(() => {}),
    ping: async () => {
      await client`select 1`
    },
    close: async () => {
      await streams.dispose()
      await client.end({ timeout: 5 })
    },
  }
}
