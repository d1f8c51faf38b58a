import { afterAll, beforeAll } from 'vitest'
import { createTestDatabase } from './postgres'
import { startServer } from './server'
import type { StartOptions, TestServer } from './server'

/** Several instances of the built server on one fresh PostgreSQL database, with one token. */
export interface Cluster {
  servers: TestServer[]
  databaseUrl: string
  token: string
  stop: () => Promise<void>
}

export async function startCluster(count: number, options: StartOptions = {}): Promise<Cluster> {
  const databaseUrl = options.env?.NUXT_DURABLE_SESSIONS_DATABASE_URL ?? await createTestDatabase()
  const token = options.env?.NUXT_DURABLE_SESSIONS_STREAMS_TOKEN ?? `cluster-token-${databaseUrl.slice(-12)}`
  const env = { ...options.env, NUXT_DURABLE_SESSIONS_DATABASE_URL: databaseUrl, NUXT_DURABLE_SESSIONS_STREAMS_TOKEN: token }
  // One after the other: each applies (or finds) the migrations before the next starts.
  const servers: TestServer[] = []
  for (let i = 0; i < count; i++) servers.push(await startServer({ ...options, env }))
  return {
    servers,
    databaseUrl,
    token,
    stop: async () => {
      await Promise.all(servers.map(server => server.stop()))
    },
  }
}

/**
 * A cluster for the whole test file: started before its tests, stopped after them. Its
 * instances, `[a, b, …]`, are there once the file's first beforeAll has run.
 */
export function useCluster(count: number, options: StartOptions = {}): { readonly current: Cluster, readonly servers: TestServer[] } {
  let cluster: Cluster | undefined
  beforeAll(async () => {
    cluster = await startCluster(count, options)
  })
  afterAll(() => cluster?.stop())
  return {
    get current() {
      if (!cluster) throw new Error('the cluster starts in beforeAll')
      return cluster
    },
    get servers() {
      return this.current.servers
    },
  }
}
