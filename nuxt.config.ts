import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { readMigrationFiles } from './server/db/migration-files'

/**
 * This project is an app and a Nuxt layer at once (`extends: ['durable-sessions-vue']`). Paths
 * here are this folder's, wherever it is installed: never the working directory's, nor `~`, which
 * is the extending app's.
 */
const inThisLayer = (path: string) => fileURLToPath(new URL(path, import.meta.url))
/** A font file of the @fontsource/inter package, as this layer resolves it, inlined as base64. */
const interFont = (file: string) => readFileSync(createRequire(import.meta.url).resolve(`@fontsource/inter/files/${file}`)).toString('base64')

export default defineNuxtConfig({
  // Names this layer: Nuxt then defines `#layers/durable-sessions` as its root, wherever it is
  // installed. Code here imports shared/ through it, because `#shared` is the root app's folder.
  $meta: { name: 'durable-sessions' },
  compatibilityDate: '2026-11-01',
  modules: ['@pinia/nuxt', '@vueuse/nuxt'],
  // Every component is `Ds…` (DsSessionViewerLayout, DsUiThemeRoot): no clash with an app's own,
  // and an app overrides one by making a component of the same name. Only .vue files are
  // components: a render helper may sit next to the component it serves.
  components: [{ path: inThisLayer('components'), prefix: 'Ds', extensions: ['vue'] }],
  // useSessionStore for the templates of an app extending this layer too (Pinia's default is the app's stores/ only).
  pinia: { storesDirs: ['stores'] },
  devtools: { enabled: false },
  // Every style in the page's head, an extending app's global CSS included: pages link no
  // stylesheet, which would hold back the first paint (server/plugins/first-paint.ts).
  features: { inlineStyles: true },
  typescript: {
    // Benchmark profiles keep a copy of the built server (JavaScript that defines a global
    // $fetch); type-checking it would shadow Nuxt's typed $fetch. The layer fixture is an app of
    // its own, checked as one (nuxt typecheck tests/fixtures/layer-app).
    tsConfig: { exclude: ['../bench/results/**', '../packages/*/dist/**', '../tests/fixtures/**'] },
  },
  telemetry: false,
  // One namespace, so an app extending this layer keeps its own settings apart: every variable is
  // NUXT_DURABLE_SESSIONS_<NAME> (README, Configuration).
  runtimeConfig: {
    durableSessions: {
      /** NUXT_DURABLE_SESSIONS_DATA_DIR: the SQLite file and generated secrets. */
      dataDir: '.data',
      /**
       * NUXT_DURABLE_SESSIONS_DATABASE_URL=postgres://…: keep everything in PostgreSQL instead of the
       * SQLite file, so that any number of instances can serve the same streams and sessions.
       */
      databaseUrl: '',
      /** NUXT_DURABLE_SESSIONS_DATABASE_POOL_SIZE: PostgreSQL connections per instance (plus one for LISTEN). */
      databasePoolSize: 10,
      /** NUXT_DURABLE_SESSIONS_STREAMS_TOKEN: bearer token for protocol writes; generated into the data dir when empty. */
      streamsToken: '',
      /** NUXT_DURABLE_SESSIONS_STREAMS_AUTH=off disables the write check (conformance runs, local benchmarks). */
      streamsAuth: 'on',
      streamsLongPollTimeoutMs: 30_000,
      streamsSseMaxSeconds: 60,
      streamsReadChunkBytes: 1024 * 1024,
      streamsMaxAppendBytes: 4 * 1024 * 1024,
      /** NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS_PER_CLIENT: SSE and long-poll reads one client address may hold open at once (429 above). */
      streamsMaxLiveReadsPerClient: 64,
      /** NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS: SSE and long-poll reads the whole server holds open at once (503 above). */
      streamsMaxLiveReads: 10_000,
      streamsCorsOrigin: '*',
      /** NUXT_DURABLE_SESSIONS_SQLITE_SYNCHRONOUS=full fsyncs every commit (power-loss safe); normal survives process crashes. */
      sqliteSynchronous: 'normal',
      /** NUXT_DURABLE_SESSIONS_RETENTION_DAYS: events older than this leave session and agent streams; idle sessions are deleted. */
      retentionDays: 30,
      /** NUXT_DURABLE_SESSIONS_PRESENCE_RETENTION_MINUTES: how much cursor and heartbeat history presence streams keep. */
      presenceRetentionMinutes: 10,
      /** NUXT_DURABLE_SESSIONS_PRESENCE_MAX_USERS_PER_HOUR: distinct presence users a session admits within any hour. */
      presenceMaxUsersPerHour: 500,
      /** NUXT_DURABLE_SESSIONS_SEED_DEMO=false: do not create a demo session when the data dir has none. */
      seedDemo: true,
      /** NUXT_DURABLE_SESSIONS_EMBED_ORIGINS: origins (comma-separated) allowed to frame /embed/** pages. */
      embedOrigins: '',
      /**
       * NUXT_DURABLE_SESSIONS_TRUST_PROXY: how many reverse proxies of ours stand in front of the
       * server; the client address is the rightmost X-Forwarded-For entry they did not add. 0
       * ignores the header; `true`/`false` still mean 1/0.
       */
      trustProxy: 0,
      /** NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS_PER_CLIENT: demo agents one client address may have running at once (429 above). */
      demoMaxRunsPerClient: 3,
      /** NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS: demo agents the whole server runs at once (503 above). */
      demoMaxRuns: 20,
      /**
       * The built-in AI agent (NUXT_DURABLE_SESSIONS_AI_MODEL, …_AI_BASE_URL, …_AI_API_KEY):
       * `anthropic:<model>` and `openai:<model>` use the providers' own key variables;
       * `openai-compatible:<model>` any Chat Completions server. …_AI_TEST_MODELS is for the test
       * suite only (see server/sessions/ai-model.ts).
       */
      ai: {
        model: '',
        baseUrl: '',
        apiKey: '',
        testModels: '',
      },
      /** Session write limits (NUXT_DURABLE_SESSIONS_RATE_LIMIT_PER_SECOND, …): per IP, per agent token, and session creation per IP. */
      rateLimit: {
        perSecond: 50,
        burst: 100,
        agentPerSecond: 500,
        agentBurst: 1000,
        createPerMinute: 60,
      },
    },
  },
  nitro: {
    // Built assets are written with .gz and .br copies beside them, served when the browser accepts
    // them: compressed once at build, at the best ratio, instead of on every request.
    compressPublicAssets: { gzip: true, brotli: true },
    // Bundled rather than loaded from node_modules: at run time Node re-reads drizzle-orm's large
    // package.json for each of its many modules, which cost ~150 MB of RSS at start.
    externals: { inline: ['drizzle-orm'] },
    experimental: { tasks: true },
    scheduledTasks: { '0 * * * *': ['sessions:retention'], '* * * * *': ['sessions:presence-retention', 'sessions:ai-agents'] },
    virtual: {
      '#db-migrations': () => `export default ${JSON.stringify(readMigrationFiles(inThisLayer('server/db/migrations')))}`,
      '#db-pg-migrations': () => `export default ${JSON.stringify(readMigrationFiles(inThisLayer('server/db/pg/migrations')))}`,
      // Link-preview cards draw text in Inter: two files of an npm package, bundled, never fetched.
      '#og-fonts': () => `export default { regular: Buffer.from(${JSON.stringify(interFont('inter-latin-400-normal.woff'))}, 'base64'), bold: Buffer.from(${JSON.stringify(interFont('inter-latin-700-normal.woff'))}, 'base64') }`,
    },
  },
})
