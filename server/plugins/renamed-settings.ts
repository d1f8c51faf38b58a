/**
 * Every setting is NUXT_DURABLE_SESSIONS_<NAME> since the app became usable as a Nuxt layer (its
 * runtime config is namespaced under `durableSessions`). A deployment still setting the old
 * NUXT_<NAME> would run on the default silently — a fresh data dir, a new server token — so the
 * start says which old names are set. (In an app extending the layer, NUXT_<NAME> may be the
 * app's own setting: hence "if it was meant for durable-sessions".)
 */
export default defineNitroPlugin(() => {
  for (const name of settingNames(useRuntimeConfig().durableSessions)) {
    const renamed = `NUXT_DURABLE_SESSIONS_${name}`
    if (process.env[`NUXT_${name}`] !== undefined && process.env[renamed] === undefined)
      console.warn(`[durable-sessions] NUXT_${name} is set, but this setting is read from ${renamed} now: rename it if it was meant for durable-sessions`)
  }
})

/** The environment names of a config object's keys, as Nuxt maps them: rateLimit.perSecond → RATE_LIMIT_PER_SECOND. */
function settingNames(config: object, prefix = ''): string[] {
  return Object.entries(config).flatMap(([key, value]) => {
    const name = `${prefix}${key.replace(/[A-Z]/g, letter => `_${letter}`).toUpperCase()}`
    return value !== null && typeof value === 'object' ? settingNames(value, `${name}_`) : [name]
  })
}
