/** Session metadata, its tail offset and who is present. */
export default defineApiHandler(event => useSessionService().details(sessionIdParam(event)))
