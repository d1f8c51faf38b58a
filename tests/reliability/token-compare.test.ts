import { readFileSync } from 'node:fs'
import { beforeEach, describe, expect, it, vi } from 'vitest'

/**
 * Secrets are compared in constant time: both sides are hashed to equal-length digests and
 * compared with crypto.timingSafeEqual, so neither the position of the first wrong character
 * nor the length of a guess shows in the answer time. Checked here on the functions themselves
 * (with timingSafeEqual observed) and on the code that calls them — never by measuring time,
 * which on a shared machine proves nothing either way.
 */

const calls = vi.hoisted(() => [] as Array<[Buffer, Buffer]>)

vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>()
  const timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls.push([Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)])
    return crypto.timingSafeEqual(a, b)
  }
  return { ...crypto, default: { ...crypto, timingSafeEqual }, timingSafeEqual }
})

const { tokenEquals } = await import('../../server/utils/server-token')
const { hashSecret, newSecret, secretMatches } = await import('../../server/sessions/secrets')

beforeEach(() => {
  calls.length = 0
})

/** A character other than `char`: a guess built with it differs from the secret whatever the secret is. */
const other = (char: string | undefined) => (char === 'x' ? 'y' : 'x')

/** Guesses that differ from `secret` early, late, in length, or not at all. */
function guesses(secret: string): Array<[string, boolean]> {
  return [
    [secret, true],
    [`${other(secret[0])}${secret.slice(1)}`, false],
    [`${secret.slice(0, -1)}${other(secret.at(-1))}`, false],
    [secret.slice(0, -1), false],
    [`${secret}x`, false],
    [secret.repeat(3), false],
    ['', false],
    ['ü🙂', false],
  ]
}

describe('tokenEquals (server token)', () => {
  it('accepts exactly the token, and compares equal-length SHA-256 digests with timingSafeEqual every time', () => {
    const token = newSecret()
    for (const [guess, expected] of guesses(token)) {
      calls.length = 0
      expect(tokenEquals(guess, token), JSON.stringify(guess)).toBe(expected)
      expect(calls, `one timingSafeEqual call for ${JSON.stringify(guess)}`).toHaveLength(1)
      const [a, b] = calls[0]!
      expect(a.length).toBe(32)
      expect(b.length).toBe(32)
    }
  })

  it('refuses a missing credential without comparing anything', () => {
    expect(tokenEquals(undefined, 'token')).toBe(false)
    expect(calls).toHaveLength(0)
  })
})

describe('secretMatches (agent tokens, collaborator keys)', () => {
  it('accepts exactly the secret whose hash is stored, comparing 32-byte digests with timingSafeEqual', () => {
    const secret = newSecret()
    const stored = hashSecret(secret)
    for (const [guess, expected] of guesses(secret)) {
      calls.length = 0
      expect(secretMatches(guess, stored), JSON.stringify(guess)).toBe(expected)
      if (guess === '') continue // an empty credential is refused up front
      expect(calls).toHaveLength(1)
      expect(calls[0]![0].length).toBe(32)
      expect(calls[0]![1].length).toBe(32)
    }
  })
})

describe('the code that checks credentials', () => {
  const source = (path: string) => readFileSync(path, 'utf8')

  it('compares only through timingSafeEqual on digests, never with == on secrets', () => {
    const serverToken = source('server/utils/server-token.ts')
    expect(serverToken).toMatch(/timingSafeEqual\(digest\(candidate\), digest\(expected\)\)/)
    const secrets = source('server/sessions/secrets.ts')
    expect(secrets).toMatch(/timingSafeEqual\(Buffer\.from\(hashSecret\(candidate\), 'hex'\), Buffer\.from\(storedHash, 'hex'\)\)/)
    for (const [path, text] of [['server/utils/server-token.ts', serverToken], ['server/sessions/secrets.ts', secrets]])
      expect(text, path).not.toMatch(/(candidate|expected|storedHash|token)\s*[!=]==?\s*(?!undefined\b)\w/)
  })

  it('every place that reads a credential hands it to tokenEquals or secretMatches', () => {
    const files = ['server/utils/sessions.ts', 'server/utils/server-token.ts', 'server/sessions/access.ts', 'server/api/admin/retention.post.ts']
    for (const path of files) {
      const text = source(path)
      // No direct comparison of a bearer token, collaborator key or stored hash.
      expect(text, path).not.toMatch(/(bearer|collaboratorKey|agentTokenHash|collaboratorKeyHash|useServerToken\(\))\s*[!=]==/)
      expect(text, path).not.toMatch(/[!=]==\s*(credentials\.bearer|credentials\.collaboratorKey|useServerToken\(\))/)
    }
    expect(source('server/utils/sessions.ts')).toMatch(/isServerToken: token => tokenEquals\(token, useServerToken\(\)\)/)
    expect(source('server/api/admin/retention.post.ts')).toMatch(/tokenEquals\(bearerToken\(event\.node\.req\), useServerToken\(\)\)/)
    expect(source('server/sessions/access.ts')).toMatch(/secretMatches\(credentials\.bearer, session\.agentTokenHash\)/)
    expect(source('server/sessions/access.ts')).toMatch(/secretMatches\(credentials\.collaboratorKey, session\.collaboratorKeyHash\)/)
  })
})
