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

declare module '#og-fonts' {
  /** Inter (the @fontsource/inter package), regular and bold, bundled at build time for link-preview cards. */
  const fonts: { regular: Buffer, bold: Buffer }
  export default fonts
}
