/// <reference path="../db/migrations.d.ts" />
import { join, resolve } from 'node:path'
import migrationFiles from '#db-migrations'
import { applyMigrations, openDatabase } from '../db/client'
import type { OpenDatabase, Synchronous } from '../db/client'

let database: OpenDatabase | undefined

/** The data directory (NUXT_DURABLE_SESSIONS_DATA_DIR): the SQLite file and generated secrets live here. */
export function useDataDir(): string {
  return resolve(useRuntimeConfig().durableSessions.dataDir)
}

/** The app's one SQLite connection, opened and migrated on first use. */
export function useDB(): OpenDatabase['db'] {
  if (!database) {
    const dataDir = useDataDir()
    database = openDatabase(join(dataDir, 'sessions.sqlite'), useRuntimeConfig().durableSessions.sqliteSynchronous as Synchronous)
    applyMigrations(database.db, migrationFiles, join(dataDir, '.migrations'))
  }
  return database.db
}

export function closeDB(): void {
  database?.sqlite.close()
  database = undefined
}
