import { CreateSessionBodySchema } from '#layers/durable-sessions/shared/sessions/api'
import { SessionError } from '../../sessions/errors'

/**
 * Creates a session; the answer is the only time its agent token and collaborator key are shown.
 * With the server token, agent ids of other sessions may be shared. `agent: "ai"` (when a model is
 * configured) has the built-in AI agent answer its prompts.
 */
export default defineApiHandler(async (event) => {
  const privileged = requestHasServerToken(event, 'Creating a session')
  await limitSessionCreation(event)
  const { body } = await readJsonBody(event, CreateSessionBodySchema.parse)
  if (body.agent === 'ai') {
    const { parsed } = aiSettings()
    if (!('spec' in parsed)) throw new SessionError('invalid', `agent: "ai" needs a model on this server. ${parsed.problem}`)
  }
  setResponseStatus(event, 201)
  return useSessionService().create(body, getRequestURL(event).origin, { privileged })
})
