import { z } from 'zod'
import { assertCanManage } from '../../../sessions/access'
import { SessionError } from '../../../sessions/errors'

const DemoBodySchema = z.strictObject({
  /** Time multiplier (1 = ~30 tokens/s). */
  speed: z.number().min(0.1).max(50).default(1),
})

/** Runs the scripted demo agent on this session (agent token), within the demo caps. */
export default defineApiHandler(async (event) => {
  const { id, service, role } = sessionWriteContext(event)
  assertCanManage(role, 'Starting the demo agent')
  const { body } = await readJsonBody(event, DemoBodySchema.parse)
  if (service.requireSession(id).status === 'ended') throw new SessionError('ended', 'Session has ended')
  const slot = takeDemoSlot(event)
  const started = useDemoAgents().start(id, { speed: body.speed, onEnd: slot })
  if (!started) slot()
  setResponseStatus(event, started ? 202 : 200)
  return { ok: true, running: true, started }
})
