import { defineAsyncComponent, hydrateOnVisible } from 'vue'
import type { Component } from 'vue'

/**
 * `component`, except that an instance rendered on the server keeps its server HTML until it
 * comes into view, and hydrates then: messages (whose Markdown would be parsed again) and the
 * items of the side panels, which a phone shows below the messages, were most of the session
 * page's hydration task. A change to an item before it hydrates renders it anew.
 *
 * Call it at module scope (a plain `<script>` block): the wrapper is resolved a microtask later,
 * with no chunk of its own, so an item scrolled into view is interactive in that frame and one
 * mounted in the browser (a live item, a component test) renders at once.
 */
export function hydrateWhenVisible<T extends Component>(component: T): T {
  const wrapper = defineAsyncComponent({ loader: () => Promise.resolve(component), hydrate: hydrateOnVisible() })
  // Vue's own handle on the loader (what its server renderer awaits): started now, not at the first mount.
  void (wrapper as { __asyncLoader?: () => Promise<unknown> }).__asyncLoader?.()
  return wrapper as T
}
