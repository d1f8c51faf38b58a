/**
 * Decides once per embed page whether it may write (embed-access.ts); the page reads the answer
 * during its server render, and the Content-Security-Policy pins the frame ancestor to match.
 */
export default defineEventHandler((event) => {
  if (event.path.startsWith('/embed/')) event.context.embedWriteOrigin = embedWriteOrigin(event)
})
