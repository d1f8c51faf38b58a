import type { H3Event } from 'h3'

/** NUXT_DURABLE_SESSIONS_EMBED_ORIGINS (comma- or space-separated); entries that are not an http(s) origin are dropped. */
export function embedOrigins(): string[] {
  return String(useRuntimeConfig().durableSessions.embedOrigins).split(/[\s,]+/).filter(origin => /^https?:\/\/[^\s/]+$/.test(origin))
}

/**
 * The origin an embed page may write for (terminal input, approvals, with the credentials its
 * browser holds), or undefined: read-only. Writes need all three — the embed URL asks for them
 * (`interactive=1`), the browser is loading the page into a frame (`Sec-Fetch-Dest`), and the
 * page doing so is of an origin NUXT_DURABLE_SESSIONS_EMBED_ORIGINS lists (its `Referer`). A browser sends these
 * headers itself: a page cannot make them up, only withhold them, which leaves the embed
 * read-only. Which page the frame really sits in is then the browser's to enforce: the
 * interactive page allows that one origin alone as its frame ancestor (security-headers.ts).
 */
export function embedWriteOrigin(event: H3Event): string | undefined {
  if (getQuery(event).interactive !== '1') return undefined
  const destination = getRequestHeader(event, 'sec-fetch-dest')
  if (destination !== 'iframe' && destination !== 'frame') return undefined
  const referer = getRequestHeader(event, 'referer')
  if (!referer || !URL.canParse(referer)) return undefined
  const origin = new URL(referer).origin
  return embedOrigins().includes(origin) ? origin : undefined
}
