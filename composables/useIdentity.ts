import { tryOnMounted, useLocalStorage } from '@vueuse/core'
import { computed } from 'vue'
import type { Ref, WritableComputedRef } from 'vue'

export interface UseIdentityOptions {
  /** localStorage key prefix. Default `durable-sessions:identity`. */
  storageKey?: string
  /** Name shown while the user has not picked one. Default: `Guest` and four characters of the id. */
  defaultName?: (userId: string) => string
}

export interface UseIdentityReturn {
  /** Random, kept in localStorage; empty during SSR and until mounted (it is this browser's, not the server's). */
  userId: Readonly<Ref<string>>
  /** The chosen name, or the default one; assigning stores it (empty resets to the default). */
  displayName: WritableComputedRef<string>
}

const guestName = (userId: string) => `Guest ${userId.replace(/-/g, '').slice(0, 4)}`

/**
 * Who this browser is in presence: a random user id and a display name, both in localStorage.
 * They are read once mounted so the server render and the first client render agree.
 */
export function useIdentity(options: UseIdentityOptions = {}): UseIdentityReturn {
  const { storageKey = 'durable-sessions:identity', defaultName = guestName } = options
  // Written synchronously: a second useIdentity mounted in the same tick must read the id the
  // first one just created, not make its own (the default flush would write it a tick later).
  const storageOptions = { initOnMounted: true, writeDefaults: false, flush: 'sync' as const }
  const userId = useLocalStorage(`${storageKey}:user-id`, '', storageOptions)
  const chosenName = useLocalStorage(`${storageKey}:display-name`, '', storageOptions)
  // Registered after useLocalStorage's own mount hook, so the stored id is read before this runs.
  tryOnMounted(() => {
    if (!userId.value) userId.value = crypto.randomUUID()
  })
  const displayName = computed({
    get: () => chosenName.value || (userId.value ? defaultName(userId.value) : ''),
    set: (name: string) => {
      chosenName.value = name.trim().slice(0, 100)
    },
  })
  return { userId, displayName }
}
