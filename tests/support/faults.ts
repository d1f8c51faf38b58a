import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, statfsSync, truncateSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'

/** Real faults for a test server's storage, made from outside the server process. */

/** The server's SQLite file in its data dir. */
export function databaseFile(dataDir: string): string {
  return join(dataDir, 'sessions.sqlite')
}

/**
 * Takes SQLite's write lock on the server's database (BEGIN IMMEDIATE from this process), so
 * every write of the server waits out its busy_timeout and fails with SQLITE_BUSY. Reads go on
 * (WAL). Returns the function that rolls back and lets go.
 */
export function holdWriteLock(dataDir: string): () => void {
  const db = new Database(databaseFile(dataDir))
  db.exec('BEGIN IMMEDIATE')
  return () => {
    if (db.inTransaction) db.exec('ROLLBACK')
    db.close()
  }
}

/** Opens the server's database read-only (WAL lets it read while the server writes). */
export function readDatabase<T>(dataDir: string, read: (db: Database.Database) => T): T {
  const db = new Database(databaseFile(dataDir), { readonly: true })
  try {
    return read(db)
  }
  finally {
    db.close()
  }
}

/** PRAGMA integrity_check of a database no process is writing: 'ok' or the problems found. */
export function integrityCheck(dataDir: string): string {
  return readDatabase(dataDir, db => (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map(row => row.integrity_check).join('; '))
}

/** A small filesystem of its own (tmpfs), for running a server out of disk space for real. */
export interface TinyDisk {
  dir: string
  /** Bytes still free. */
  free(): number
  /** Fills the disk until the filesystem itself says ENOSPC; returns the bytes written. */
  fill(): number
  /** Gives `bytes` back (all of it when omitted: the filler is deleted). */
  release(bytes?: number): void
  unmount(): void
}

/**
 * Mounts a tmpfs of `sizeMiB` — or explains why it cannot (it needs root, or CAP_SYS_ADMIN, and
 * a kernel that lets this process mount). Without it, `limitFileSize` is the next best fault.
 */
export function mountTinyDisk(sizeMiB: number): TinyDisk | { unavailable: string } {
  if (process.platform !== 'linux') return { unavailable: `tmpfs mounts need Linux (this is ${process.platform})` }
  if (process.getuid?.() !== 0) return { unavailable: `mounting a tmpfs needs root (uid is ${process.getuid?.()})` }
  const dir = mkdtempSync(join(tmpdir(), 'ds-tiny-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' })
  }
  catch (error) {
    rmSync(dir, { recursive: true, force: true })
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim()
    return { unavailable: `mount -t tmpfs failed: ${stderr || (error as Error).message}` }
  }
  const filler = join(dir, 'filler')
  let mounted = true
  return {
    dir,
    free() {
      const stats = statfsSync(dir)
      return stats.bavail * stats.bsize
    },
    fill() {
      const fd = openSync(filler, 'a')
      let written = 0
      try {
        for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
          const chunk = Buffer.alloc(size, 0x66)
          for (;;) {
            try {
              written += writeSync(fd, chunk)
            }
            catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
              break
            }
          }
        }
      }
      finally {
        closeSync(fd)
      }
      return written
    },
    release(bytes) {
      if (bytes === undefined) return rmSync(filler, { force: true })
      truncateSync(filler, Math.max(0, statSync(filler).size - bytes))
    },
    unmount() {
      if (!mounted) return
      mounted = false
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Caps the size of every file the process `pid` writes (RLIMIT_FSIZE, via prlimit): a write past
 * it fails with EFBIG (Node ignores the SIGXFSZ that comes with it), which SQLite reports as an
 * I/O error — the disk-full case without root. `bytes` undefined lifts the cap.
 */
export function limitFileSize(pid: number, bytes: number | undefined): void {
  // The soft limit only (`N:`): the hard limit stays, so lifting the cap needs no privilege.
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${bytes ?? 'unlimited'}:`], { stdio: 'pipe' })
}

/** Resident set size of a process in KiB, from /proc/<pid>/status (VmRSS). */
export function rssKiB(pid: number): number {
  return memoryKiB(pid).rss
}

/** VmRSS and its parts (anonymous: heaps and buffers; file: mapped files; shmem: shared memory) in KiB. */
export function memoryKiB(pid: number): { rss: number, anon: number, file: number, shmem: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), shmem: field('RssShmem') }
}
