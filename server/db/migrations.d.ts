declare module '#db-migrations' {
  /** drizzle-kit's migrations folder, bundled at build time: relative path → file content. */
  const files: Record<string, string>
  export default files
}
