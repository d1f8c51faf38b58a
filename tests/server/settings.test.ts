import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { api, startSessionServer } from '../support/sessions'

/**
 * Settings live under one namespace (runtimeConfig.durableSessions, NUXT_DURABLE_SESSIONS_*), so
 * an app extending this layer keeps its own apart. The old names are not read, and the server says
 * so rather than running on defaults without a word.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer({
    env: {
      NUXT_DURABLE_SESSIONS_RATE_LIMIT_CREATE_PER_MINUTE: '1',
      // Old names: one whose new name is unset, one (the data dir: startServer sets it) whose is.
      NUXT_EMBED_ORIGINS: 'https://docs.example.com',
      NUXT_DATA_DIR: '/nonexistent/old-data-dir',
    },
  })
})
afterAll(() => server?.stop())

describe('settings', () => {
  it('are read from NUXT_DURABLE_SESSIONS_*', async () => {
    expect((await api(server, 'POST', '/api/sessions', { json: {} })).status).toBe(201)
    expect((await api(server, 'POST', '/api/sessions', { json: {} })).status).toBe(429)
  })

  it('name an old variable that is set while its new name is not: it is not read any more', () => {
    expect(server.log).toContain('NUXT_EMBED_ORIGINS is set, but this setting is read from NUXT_DURABLE_SESSIONS_EMBED_ORIGINS now')
    expect(server.log).not.toContain('NUXT_DATA_DIR is set')
  })
})
