import { defineConfig } from 'drizzle-kit'

/** The PostgreSQL schema's migrations (`npm run db:generate` makes both dialects'). */
export default defineConfig({
  dialect: 'postgresql',
  schema: './server/db/pg/schema.ts',
  out: './server/db/pg/migrations',
})
