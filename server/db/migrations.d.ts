declare module '#db-migrations' {
  /** drizzle-kit's SQLite migrations folder, bundled at build time: relative path → file content. */
  const files: Record<string, string>
  export default files
}

declare module '#db-pg-migrations' {
  /** drizzle-kit's PostgreSQL migrations folder (server/db/pg/migrations), bundled the same way. */
  const files: Record<string, string>
  export default files
}
