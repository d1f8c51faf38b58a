import type { Pinia } from 'pinia'

/** One holder's share of a value from a RefCountedMap. */
export interface Lease<V> {
  value: V
  /** Gives this reference back; the last one disposes of the value. Safe to call twice. */
  release: () => void
}

/**
 * Values shared by key and counted by reference: the first `acquire` of a key creates its value,
 * the last `release` disposes of it. A tab opens one live connection per session (browsers allow
 * about six per host) and builds one instance per session however many components ask.
 */
export class RefCountedMap<V> {
  private readonly entries = new Map<string, { value: V, refs: number }>()

  constructor(private readonly dispose: (value: V) => void) {}

  get size(): number {
    return this.entries.size
  }

  acquire(key: string, create: () => V): Lease<V> {
    let entry = this.entries.get(key)
    if (!entry) {
      entry = { value: create(), refs: 0 }
      this.entries.set(key, entry)
    }
    entry.refs++
    const owned = entry
    let released = false
    return {
      value: owned.value,
      release: () => {
        if (released) return
        released = true
        if (--owned.refs > 0) return
        if (this.entries.get(key) === owned) this.entries.delete(key)
        this.dispose(owned.value)
      },
    }
  }
}

/**
 * One RefCountedMap per Pinia: state lives in a Pinia (one per app, one per SSR request), so what
 * is shared with it is too, and two apps on a page (or two tests) never share anything.
 */
export function perPinia<V>(dispose: (value: V) => void): (pinia: Pinia) => RefCountedMap<V> {
  const maps = new WeakMap<Pinia, RefCountedMap<V>>()
  return (pinia) => {
    let map = maps.get(pinia)
    if (!map) {
      map = new RefCountedMap(dispose)
      maps.set(pinia, map)
    }
    return map
  }
}
