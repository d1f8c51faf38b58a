import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'

let serverToken: string | undefined

/**
 * The server token (NUXT_DURABLE_SESSIONS_STREAMS_TOKEN), or one generated on first start and kept in the data
 * directory. Only its location is logged, never the token.
 */
export function useServerToken(): string {
  if (serverToken) return serverToken
  const configured = useRuntimeConfig().durableSessions.streamsToken
  if (configured) return (serverToken = configured)
  // Every instance must accept the same token and derive the same presence keys: with
  // PostgreSQL there is no data dir they share to generate one into.
  if (usesPostgres()) throw new Error('NUXT_DURABLE_SESSIONS_DATABASE_URL is set: set NUXT_DURABLE_SESSIONS_STREAMS_TOKEN too, the same on every instance')
  const dataDir = useDataDir()
  const file = join(dataDir, 'server-token')
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 })
    console.info(`[streams] generated a server token in ${file}`)
  }
  serverToken = readFileSync(file, 'utf8').trim()
  return serverToken
}

export function isAuthEnabled(): boolean {
  return String(useRuntimeConfig().durableSessions.streamsAuth).toLowerCase() !== 'off'
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  return match?.[1]
}

/** Constant-time comparison: both sides are hashed to equal length first. */
export function tokenEquals(candidate: string | undefined, expected: string): boolean {
  if (candidate === undefined) return false
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(candidate), digest(expected))
}

export function hasServerToken(req: IncomingMessage): boolean {
  return !isAuthEnabled() || tokenEquals(bearerToken(req), useServerToken())
}
