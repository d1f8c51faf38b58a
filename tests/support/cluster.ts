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
  const databaseUrl = options.env?.NUXT_DATABASE_URL ?? await createTestDatabase()
  const token = options.env?.NUXT_STREAMS_TOKEN ?? `cluster-token-${databaseUrl.slice(-12)}`
  const env = { ...options.env, NUXT_DATABASE_URL: databaseUrl, NUXT_STREAMS_TOKEN: token }
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
