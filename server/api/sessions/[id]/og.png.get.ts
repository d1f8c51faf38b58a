import { createHash } from 'node:crypto'
import { renderSessionCard, SessionCardCache } from '../../../sessions/og-image'

const cards = new SessionCardCache()

/**
 * The session's link-preview image (og:image): a PNG of its title, agent status and newest
 * messages, rendered once per change of the session (by offset and title) and revalidated by
 * ETag. Like the page, it is readable by whoever holds the session id.
 */
export default defineApiHandler(async (event) => {
  const sessionId = sessionIdParam(event)
  const { card, offset } = await useSessionService().card(sessionId)
  const version = createHash('sha256').update(`${offset}\0${card.title}\0${card.status}`).digest('base64url').slice(0, 16)
  setResponseHeader(event, 'content-type', 'image/png')
  if (handleCacheHeaders(event, { etag: `"${version}"`, maxAge: 60 })) return
  return cards.get(`${sessionId}\0${version}`, () => renderSessionCard(card))
})
