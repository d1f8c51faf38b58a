import { toRaw, unref } from 'vue'
import { definePayloadPlugin, definePayloadReducer, definePayloadReviver } from '#imports'

/**
 * A session store's state is plain JSON and may hold 10,000+ events. Walking it value by value
 * (devalue) through Vue's reactive proxies dominated the server render of long sessions; the
 * store's state travels as one JSON string of its raw values instead, parsed once in the browser.
 */
function isSessionStoreState(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && 'presenceOffset' in value && 'messages' in value && 'chunks' in value
}

function rawState(state: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(toRaw(state)).map(([key, field]) => [key, toRaw(unref(field))]))
}

export default definePayloadPlugin(() => {
  definePayloadReducer('SessionStoreState', value => isSessionStoreState(value) && JSON.stringify(rawState(value)))
  definePayloadReviver('SessionStoreState', (value: string) => JSON.parse(value))
})
