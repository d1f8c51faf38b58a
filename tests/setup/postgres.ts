import type { TestProject } from 'vitest/node'
import { startEmbeddedPostgres } from '../support/embedded-postgres'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server for the whole run: tests create a database of their own on it. */
    postgresUrl: string
  }
}

/**
 * Vitest global setup: ONE PostgreSQL server for the whole test run (embedded-postgres, deleted
 * at the end). `DATABASE_URL` in the environment points the tests at an existing server instead
 * (its user must be allowed to create databases). Test files get a fresh database each
 * (tests/support/postgres.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) {
    project.provide('postgresUrl', process.env.DATABASE_URL)
    return async () => {}
  }
  const postgres = await startEmbeddedPostgres()
  project.provide('postgresUrl', postgres.url)
  return postgres.stop
}
