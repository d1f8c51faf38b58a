import { defineAsyncComponent, hydrateOnVisible } from 'vue'
import type { Component } from 'vue'

/**
 * `component`, except that an instance rendered on the server keeps its server HTML until it
 * comes into view, and hydrates then: the items of the side panels, which a phone shows below the
 * messages, were much of the session page's hydration task. The component is already loaded (no
 * chunk of its own), so an item scrolled into view is interactive in that frame, and one added in
 * the browser renders right away. A change to an item before it hydrates renders it anew.
 */
export function hydrateWhenVisible<T extends Component>(component: T): T {
  return defineAsyncComponent({ loader: () => Promise.resolve(component), hydrate: hydrateOnVisible() }) as T
}
