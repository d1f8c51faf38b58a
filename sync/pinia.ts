import { getActivePinia, piniaSymbol } from 'pinia'
import type { Pinia } from 'pinia'
import { hasInjectionContext, inject } from 'vue'

/**
 * The Pinia a composable works with: the one given, else the app's (injected, so several apps
 * on a page — or tests — never cross), else the active one.
 */
export function currentPinia(explicit?: Pinia | null): Pinia | undefined {
  if (explicit) return explicit
  const injected = hasInjectionContext() ? inject(piniaSymbol, null) : null
  return injected ?? getActivePinia()
}
