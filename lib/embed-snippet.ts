/** The snippet that embeds a session in another site, and the embed URL's options. */

/** Escapes text for an HTML attribute value in double quotes (the copied embed snippet). */
export function escapeHtmlAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

export interface EmbedSnippetOptions {
  src: string
  title: string
  height?: number
}

/**
 * The `<iframe>` users paste into their own pages. Every value is attribute-escaped: a session
 * titled `"><script>…` must not inject markup into the page of whoever pastes the snippet.
 */
export function buildEmbedSnippet({ src, title, height = 600 }: EmbedSnippetOptions): string {
  return `<iframe src="${escapeHtmlAttribute(src)}" title="${escapeHtmlAttribute(title)}" width="100%" height="${Math.round(height)}" style="border:0;border-radius:8px" loading="lazy" allow="clipboard-write"></iframe>`
}

/** The embed URL with `?panels=` and `?theme=` set (others kept); unchanged when it cannot be parsed. */
export function withEmbedOptions(url: string, options: { panels?: readonly string[], theme?: 'light' | 'dark' | null }): string {
  try {
    const parsed = new URL(url, 'http://placeholder.invalid')
    if (options.panels?.length) parsed.searchParams.set('panels', options.panels.join(','))
    else parsed.searchParams.delete('panels')
    if (options.theme) parsed.searchParams.set('theme', options.theme)
    else parsed.searchParams.delete('theme')
    const absolute = /^[a-z][a-z\d+.-]*:/i.test(url)
    return absolute ? parsed.href : parsed.pathname + parsed.search + parsed.hash
  }
  catch {
    return url
  }
}
