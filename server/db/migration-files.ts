import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'

/** Every file of the drizzle-kit migrations folder, keyed by relative path (read at build time). */
export function readMigrationFiles(folder: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    files[relative(folder, path)] = readFileSync(path, 'utf8')
  }
  return files
}
