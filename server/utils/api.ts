import { createHash } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { EventHandlerRequest, H3Event } from 'h3'
import { ZodError } from 'zod'
import { COLLABORATOR_KEY_HEADER, IDEMPOTENCY_KEY_HEADER, PRESENCE_KEY_HEADER } from '#layers/durable-sessions/shared/sessions/api'
import { describeError } from '../errors'
import { SessionError } from '../sessions/errors'
import type { Credentials, Role } from '../sessions/access'
import type { Idempotency, SessionService } from '../sessions/service'
import { readBody } from '../streams/body'

/** The largest body of a session API request (413 above). */
export const MAX_API_BODY_BYTES = 1024 * 1024

/** An API handler whose domain errors become clear 4xx answers, never stack traces. */
export function defineApiHandler<T>(handler: (event: H3Event<EventHandlerRequest>) => T | Promise<T>) {
  return defineEventHandler(async (event) => {
    try {
      return await handler(event)
    }
    catch (error) {
      throw toHttpError(event, error)
    }
  })
}

export function toHttpError(event: H3Event, error: unknown) {
  // readValidatedBody wraps the schema's ZodError; unwrap it to name each problem plainly.
  const zodError = error instanceof ZodError ? error : isError(error) && error.data instanceof ZodError ? error.data : undefined
  if (zodError) {
    return httpError(400, zodError.issues.map(issue => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '), {
      code: 'invalid',
      issues: zodError.issues,
    })
  }
  // A body nested deeper than the validator can recurse: the client's problem, said plainly.
  if (isError(error) && error.data instanceof RangeError) return httpError(400, 'Body is nested too deeply', { code: 'invalid' })
  if (isError(error)) return error
  const described = describeError(error)
  if (described.status === 500) console.error('[api] request failed', error)
  for (const [name, value] of Object.entries(described.headers)) setResponseHeader(event, name, value)
  return httpError(described.status, described.message, { code: described.code })
}

function httpError(statusCode: number, message: string, data: Record<string, unknown>) {
  return createError({ statusCode, statusMessage: STATUS_CODES[statusCode], message, data })
}

/**
 * Reads a JSON body no larger than `maxBytes` (413 beyond, 415 when not JSON) and validates it
 * with h3's readValidatedBody. An empty body reads as `{}`.
 */
export async function readJsonBody<T>(event: H3Event, parse: (body: unknown) => T, maxBytes = MAX_API_BODY_BYTES): Promise<{ body: T, raw: Buffer }> {
  const raw = await readBody(event.node.req, maxBytes)
  if (raw.length === 0) return { body: parse({}), raw }
  if (!/^application\/json\s*(;|$)/i.test(getRequestHeader(event, 'content-type') ?? ''))
    throw httpError(415, 'Send the body as Content-Type: application/json', { code: 'unsupported_media_type' })
  // h3 reads the body from here instead of the (already consumed) request stream.
  ;(event.node.req as { rawBody?: Buffer }).rawBody = raw
  return { body: await readValidatedBody(event, parse), raw }
}

export function sessionCredentials(event: H3Event): Credentials {
  return {
    bearer: bearerToken(event.node.req),
    collaboratorKey: getRequestHeader(event, COLLABORATOR_KEY_HEADER) || undefined,
  }
}

/** The X-Presence-Key a join returned, if the request carries one. */
export function presenceKeyHeader(event: H3Event): string | undefined {
  return getRequestHeader(event, PRESENCE_KEY_HEADER) || undefined
}

/**
 * Whether the request carries the server token; a bearer that is not it is 401 (never a silent
 * downgrade), no bearer is simply anonymous.
 */
export function requestHasServerToken(event: H3Event, what: string): boolean {
  const bearer = bearerToken(event.node.req)
  if (bearer === undefined) return false
  if (tokenEquals(bearer, useServerToken())) return true
  throw new SessionError('unauthorized', `${what} takes no bearer token but the server token`)
}

/** The request's Idempotency-Key, bound to what was sent to which endpoint. */
export function requestIdempotency(event: H3Event, raw: Buffer): Idempotency | undefined {
  const key = getRequestHeader(event, IDEMPOTENCY_KEY_HEADER)
  if (key === undefined) return undefined
  if (key.length === 0 || key.length > 200) throw new SessionError('invalid', 'Idempotency-Key must be 1–200 characters')
  const requestHash = createHash('sha256').update(event.path.split('?')[0]!).update('\n').update(raw).digest('hex')
  return { key, requestHash }
}

/**
 * The common start of every session write: which session, who is asking (401 for wrong
 * credentials), and whether they are within their rate limit (429) for `events` events — a
 * handler that learns the count from its body passes 0 and charges the events itself.
 */
export async function sessionWriteContext(event: H3Event, events = 1): Promise<{ id: string, service: SessionService, role: Role }> {
  const id = sessionIdParam(event)
  const service = useSessionService()
  const role = await service.role(id, sessionCredentials(event))
  if (events > 0) await limitSessionWrites(event, role, events)
  return { id, service, role }
}

export function sessionIdParam(event: H3Event): string {
  const id = getRouterParam(event, 'id') ?? ''
  if (id.length === 0 || id.length > 100) throw new SessionError('not_found', 'Session not found')
  return id
}
