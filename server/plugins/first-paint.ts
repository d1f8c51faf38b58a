/**
 * Nothing in a page's head may hold back its first paint: the server-rendered HTML is the page.
 *
 * - Every style is inlined into the page's head (`features.inlineStyles: true` in nuxt.config.ts:
 *   the components' and an extending app's global CSS), yet Nuxt also links the stylesheet files,
 *   and a linked stylesheet holds back the first paint until it has loaded (at the end of the body
 *   too: Lighthouse still counted ~300 ms). The links are left out: the page's chunks bring their
 *   stylesheets themselves when the client loads them (Vite's preload of the route chunk inserts
 *   each stylesheet and waits for it), so components that appear later (a dialog opened on click)
 *   still find their styles.
 * - The app's scripts are preloaded at low priority: they only hydrate what is already painted,
 *   and at the default (high) priority ~150 KB of them compete with the document on a slow link.
 */
export default defineNitroPlugin((nitroApp) => {
  if (import.meta.dev) return
  nitroApp.hooks.hook('render:html', (html) => {
    const stylesheet = /<link\b[^>]*\brel="stylesheet"[^>]*>/g
    const modulePreload = /<link\b(?=[^>]*\brel="modulepreload")(?![^>]*\bfetchpriority=)/g
    html.head = html.head.map(chunk => chunk.replace(stylesheet, '').replace(modulePreload, '<link fetchpriority="low"'))
  })
})
