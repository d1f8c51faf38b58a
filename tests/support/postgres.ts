import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { inject } from 'vitest'

/**
 * A fresh database on the run's PostgreSQL server (tests/setup/postgres.ts), for one test file
 * or one cluster of servers: `postgres://…/ds_<random>`. Nothing is shared between files.
 */
export async function createTestDatabase(): Promise<string> {
  const base = inject('postgresUrl')
  const name = `ds_${randomBytes(6).toString('hex')}`
  const admin = postgres(base, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name}`)
  }
  finally {
    await admin.end()
  }
  const url = new URL(base)
  url.pathname = `/${name}`
  return url.toString()
}

/** A short-lived connection to a test database, for looking behind the server's back. */
export async function withDatabase<T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, types: { bigint: { to: 20, from: [20], parse: (value: string) => Number(value), serialize: (value: number) => String(value) } } })
  try {
    return await work(sql)
  }
  finally {
    await sql.end()
  }
}
