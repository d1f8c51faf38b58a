import { PresenceBodySchema } from '#shared/sessions/api'

/** Join, heartbeat, update (cursor) or leave; anyone holding the session id may. */
export default defineApiHandler(async (event) => {
  const id = sessionIdParam(event)
  const service = useSessionService()
  service.role(id, sessionCredentials(event))
  const { body, raw } = await readJsonBody(event, PresenceBodySchema.parse)
  return service.updatePresence(id, body, requestIdempotency(event, raw))
})
