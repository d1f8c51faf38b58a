import { PresenceBodySchema } from '#layers/durable-sessions/shared/sessions/api'

/**
 * Join (answers a presence key), heartbeat, update (cursor) or leave — the last three with the
 * key as X-Presence-Key. Anyone holding the session id may join.
 */
export default defineApiHandler(async (event) => {
  const { id, service } = await sessionWriteContext(event)
  const { body, raw } = await readJsonBody(event, PresenceBodySchema.parse)
  return service.updatePresence(id, body, requestIdempotency(event, raw), presenceKeyHeader(event))
})
