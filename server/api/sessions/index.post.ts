import { CreateSessionBodySchema } from '#shared/sessions/api'

/** Creates a session; the answer is the only time its agent token and collaborator key are shown. */
export default defineApiHandler(async (event) => {
  limitSessionCreation(event)
  const { body } = await readJsonBody(event, CreateSessionBodySchema.parse)
  setResponseStatus(event, 201)
  return useSessionService().create(body, getRequestURL(event).origin)
})
