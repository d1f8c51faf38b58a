/**
 * Puts a page of earlier history into a list the viewer holds. The list may already hold some of
 * the page's items: ones shipped because they must stay complete (a running tool call), or ones
 * an update brought live before their page was loaded. Each item ends up once, where the page
 * puts it, with the newer of the two values; the page goes just before the item keyed `before`
 * (the oldest of the window it continues), or first when the list does not hold that item.
 */
export function mergeEarlier<T>(held: readonly T[], page: readonly T[], options: { keyOf: (item: T) => string, before?: string | null, pageIsNewer: boolean }): T[] {
  const { keyOf, before, pageIsNewer } = options
  if (page.length === 0) return [...held]
  const pageKeys = new Set(page.map(keyOf))
  const heldCopies = new Map<string, T>()
  const rest: T[] = []
  for (const item of held) {
    const key = keyOf(item)
    if (pageKeys.has(key)) heldCopies.set(key, item)
    else rest.push(item)
  }
  const merged = page.map(item => (pageIsNewer ? item : heldCopies.get(keyOf(item)) ?? item))
  const at = before == null ? 0 : Math.max(0, rest.findIndex(item => keyOf(item) === before))
  return [...rest.slice(0, at), ...merged, ...rest.slice(at)]
}
