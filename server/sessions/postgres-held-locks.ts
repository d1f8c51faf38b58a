import type { ReservedSql, Sql } from 'postgres'

/** Advisory-lock key of the held locks (the other keys are the repository's). */
const HELD_LOCKS = 719_043_104

/** How often an instance holding locks checks that their connection is still there (ms). */
const CHECK_INTERVAL_MS = 2_000

interface Holder {
  connection: ReservedSql
  /** The server process of the connection's session: the locks live as long as it does. */
  pid: number
}

interface Hold {
  onLost: () => void
  /** False while the lock is being asked for: only a lock that was granted can be lost. */
  taken: boolean
}

/**
 * Session-level advisory locks held for long-running work (the built-in AI agent of a session),
 * all on one connection kept for them (not one per lock: a busy instance would drain its pool).
 * They end with that connection: with the process, and also when the connection alone goes (a
 * database restart, a network cut, pg_terminate_backend). While any is held, its session is
 * looked for every 2 s; when it has gone, every holder hears `onLost`, so the work stops here
 * (another instance can now take the lock and start it there).
 */
export class PostgresHeldLocks {
  private holder: Promise<Holder> | undefined
  /** Names this process holds or is asking for: PostgreSQL would grant one connection the same lock twice. */
  private readonly held = new Map<string, Hold>()
  private checker: NodeJS.Timeout | undefined
  private checking = false

  constructor(private readonly client: Sql) {}

  async tryHold(name: string, onLost: () => void): Promise<(() => Promise<void>) | undefined> {
    if (this.held.has(name)) return undefined
    const hold: Hold = { onLost, taken: false }
    this.held.set(name, hold)
    try {
      const { connection } = await this.holderConnection()
      const [row] = await connection<{ taken: boolean }[]>`select pg_try_advisory_lock(${HELD_LOCKS}, hashtext(${name})) as taken`
      if (!row?.taken) {
        this.forget(name, hold)
        return undefined
      }
      hold.taken = true
      this.checker ??= setInterval(() => void this.check(), CHECK_INTERVAL_MS).unref()
      return async () => {
        // A lock lost meanwhile went with its connection: there is nothing left to unlock.
        if (!this.forget(name, hold)) return
        await connection`select pg_advisory_unlock(${HELD_LOCKS}, hashtext(${name}))`
      }
    }
    catch (error) {
      this.forget(name, hold)
      throw error
    }
  }

  private holderConnection(): Promise<Holder> {
    this.holder ??= this.client.reserve()
      .then(async connection => ({ connection, pid: await backendPid(connection) }))
      .catch((error) => {
        this.holder = undefined
        throw error
      })
    return this.holder
  }

  /**
   * Whether the session the locks were granted to is still there; if not, they are lost. Asked
   * on a pool connection: a query on a reserved connection that went never answers.
   */
  private async check(): Promise<void> {
    const holder = this.holder
    if (this.checking || !holder) return
    this.checking = true
    try {
      const { pid } = await holder
      const [row] = await this.client<{ alive: boolean }[]>`select exists(select 1 from pg_stat_activity where pid = ${pid}) as alive`
      if (row?.alive || this.holder !== holder) return
      // The connection went, and is not given back to the pool (it would be handed out again).
      // Locks still being asked for on it will never be answered: they are forgotten too, so the
      // names can be asked for again on a new connection.
      this.holder = undefined
      for (const [name, hold] of this.held) {
        if (this.forget(name, hold) && hold.taken) hold.onLost()
      }
    }
    catch {
      // The database does not answer: nobody can take the locks meanwhile. Asked again next time.
    }
    finally {
      this.checking = false
    }
  }

  /** Drops `hold` if it is still this name's; stops checking once nothing is held. */
  private forget(name: string, hold: Hold): boolean {
    if (this.held.get(name) !== hold) return false
    this.held.delete(name)
    if (this.held.size === 0) {
      clearInterval(this.checker)
      this.checker = undefined
    }
    return true
  }
}

async function backendPid(connection: ReservedSql): Promise<number> {
  const [row] = await connection<{ pid: number }[]>`select pg_backend_pid() as pid`
  return row!.pid
}
