import { z } from 'zod'
import { SessionError } from '../../sessions/errors'

const RetentionBodySchema = z.strictObject({
  /** Run as of this time (ms since epoch) — for operators checking a policy ahead of time, and for tests. */
  now: z.number().int().positive().optional(),
})

/** Runs retention now (server token). */
export default defineApiHandler(async (event) => {
  if (!tokenEquals(bearerToken(event.node.req), useServerToken()))
    throw new SessionError('unauthorized', 'Retention needs Authorization: Bearer <server token>')
  const { body } = await readJsonBody(event, RetentionBodySchema.parse)
  return runRetention(body.now)
})
