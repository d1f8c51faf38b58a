/** Deletes the session and its streams (agent token or server token). */
export default defineApiHandler((event) => {
  const id = sessionIdParam(event)
  const service = useSessionService()
  service.delete(id, service.role(id, sessionCredentials(event)))
  setResponseStatus(event, 204)
  return null
})
