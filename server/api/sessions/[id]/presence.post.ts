import { PresenceBodySchema } from '#shared/sessions/api'

/** Join, heartbeat, update (cursor) or leave; anyone holding the session id may. */
export default defineApiHandler(async (event) => {
  const { id, service } = sessionWriteContext(event)
  const { body, raw } = await readJsonBody(event, PresenceBodySchema.parse)
  return service.updatePresence(id, body, requestIdempotency(event, raw))
})
