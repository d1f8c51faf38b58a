/**
 * The styles of every component a page renders are inlined into its head (Nuxt's inlineStyles),
 * yet Nuxt also links their stylesheet files, and a stylesheet in the document holds back the
 * first paint until it has loaded (at the end of the body too: Lighthouse still counted ~300 ms).
 * The links are left out: the page's chunks bring their stylesheets themselves when the client
 * loads them (Vite's preload of the route chunk inserts each stylesheet and waits for it), so
 * components that appear later (a dialog opened on click) still find their styles.
 */
export default defineNitroPlugin((nitroApp) => {
  if (import.meta.dev) return
  nitroApp.hooks.hook('render:html', (html) => {
    const stylesheet = /<link\b[^>]*\brel="stylesheet"[^>]*>/g
    html.head = html.head.map(chunk => chunk.replace(stylesheet, ''))
  })
})
