import { describe, expect, it } from 'vitest'
import { describeError, isStorageUnavailable } from '../../server/errors'
import { SessionError } from '../../server/sessions/errors'
import { StreamError } from '../../server/streams/errors'

/** The server's one domain-error → HTTP table (server/errors.ts), which both APIs answer through. */

const withCode = (code: string) => Object.assign(new Error(`failure ${code}`), { code })

describe('describeError', () => {
  it('maps stream and session errors by their code, with the headers they carry', () => {
    expect(describeError(new StreamError('producer_seq_gap', 'gap', { 'Producer-Expected-Seq': '3' }))).toEqual({
      status: 409, code: 'producer_seq_gap', message: 'gap', headers: { 'Producer-Expected-Seq': '3' },
    })
    expect(describeError(new StreamError('offset_gone', 'gone')).status).toBe(410)
    expect(describeError(new SessionError('unauthorized', 'who?')).status).toBe(401)
    expect(describeError(new SessionError('rate_limited', 'slow down', { retryAfterSeconds: 7 }))).toEqual({
      status: 429, code: 'rate_limited', message: 'slow down', headers: { 'retry-after': '7' },
    })
    expect(describeError(new SessionError('busy', 'full')).status).toBe(503)
  })

  it('answers 503 with Retry-After for a database that is momentarily unavailable, SQLite or PostgreSQL', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_IOERR_WRITE', '08006', '40001', '40P01', '53100', '53300', '57P01', 'CONNECTION_CLOSED', 'ECONNREFUSED']) {
      expect(isStorageUnavailable(withCode(code)), code).toBe(true)
      expect(describeError(withCode(code)), code).toMatchObject({ status: 503, code: 'unavailable', headers: { 'retry-after': '1' } })
    }
  })

  it('answers 500 without details for anything else: a constraint broken, a syntax error, a bug', () => {
    for (const error of [withCode('SQLITE_CONSTRAINT_PRIMARYKEY'), withCode('23505'), withCode('42601'), new TypeError('x is undefined'), 'a string']) {
      expect(isStorageUnavailable(error)).toBe(false)
      expect(describeError(error)).toEqual({ status: 500, code: 'internal', message: 'Internal server error', headers: {} })
    }
  })
})
