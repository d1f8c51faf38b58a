import { CreateSessionBodySchema } from '#layers/durable-sessions/shared/sessions/api'

/**
 * Creates a session; the answer is the only time its agent token and collaborator key are shown.
 * With the server token, agent ids of other sessions may be shared.
 */
export default defineApiHandler(async (event) => {
  const privileged = requestHasServerToken(event, 'Creating a session')
  limitSessionCreation(event)
  const { body } = await readJsonBody(event, CreateSessionBodySchema.parse)
  setResponseStatus(event, 201)
  return useSessionService().create(body, getRequestURL(event).origin, { privileged })
})
