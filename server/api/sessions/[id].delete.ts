/** Deletes the session and its streams (agent token or server token). */
export default defineApiHandler((event) => {
  const { id, service, role } = sessionWriteContext(event)
  service.delete(id, role)
  setResponseStatus(event, 204)
  return null
})
