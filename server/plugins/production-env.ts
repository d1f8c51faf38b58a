/**
 * The built server is the production server, whether or not its launcher set NODE_ENV
 * (`npm start` and `node .output/server/index.mjs` do not). Without it, Vue and Vue Router —
 * externals, loaded lazily on the first page render — run their development builds, and Vue
 * Router warns about every unmatched URL with its query string: the collaborator key of a
 * mistyped collaborate link (`/sessions/<id>/?key=…`, `/x?key=…`) landed in the server log
 * (found by tests/reliability/security.test.ts). An explicit NODE_ENV is respected.
 */
export default defineNitroPlugin(() => {
  // Indexed by a variable: the bundler replaces the literal `process.env.NODE_ENV` at build time.
  const name = 'NODE_ENV'
  if (!import.meta.dev && !process.env[name]) process.env[name] = 'production'
})
