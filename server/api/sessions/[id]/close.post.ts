/** Ends the session: its streams close, so every reader sees EOF (agent token or server token). */
export default defineApiHandler((event) => {
  const id = sessionIdParam(event)
  const service = useSessionService()
  return service.close(id, service.role(id, sessionCredentials(event)))
})
