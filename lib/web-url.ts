/** Longest URL rendered as a link or image (the session schemas accept avatar URLs up to this length too). */
export const MAX_WEB_URL_LENGTH = 2048

/**
 * The URL, normalised, when it is an absolute http(s) URL; null otherwise. Every URL that agent or
 * user text puts into an attribute (markdown links, images and references, avatars) goes through
 * here: `javascript:`, `data:`, `vbscript:`, protocol-relative and relative URLs never render.
 */
export function safeWebUrl(raw: string | null | undefined): string | null {
  const candidate = raw?.trim()
  if (!candidate || candidate.length > MAX_WEB_URL_LENGTH || !/^https?:\/\//i.test(candidate)) return null
  try {
    const url = new URL(candidate)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null
  }
  catch {
    return null
  }
}
