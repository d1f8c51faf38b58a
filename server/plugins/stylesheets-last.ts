/**
 * The styles of every component a page renders are inlined into its head (Nuxt's inlineStyles),
 * yet Nuxt also links their stylesheet files there, and a stylesheet in the head blocks the first
 * paint until it has loaded. Moved to the end of the body, the links still bring the styles of
 * components that appear later (a dialog opened on click) without holding back the first paint.
 */
export default defineNitroPlugin((nitroApp) => {
  if (import.meta.dev) return
  nitroApp.hooks.hook('render:html', (html) => {
    const links: string[] = []
    const stylesheet = /<link\b[^>]*\brel="stylesheet"[^>]*>/g
    html.head = html.head.map(chunk => chunk.replace(stylesheet, (link) => {
      links.push(link)
      return ''
    }))
    if (links.length) html.bodyAppend.push(links.join(''))
  })
})
