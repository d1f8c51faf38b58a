/**
 * Things a client holds open at once (live reads, demo runs), counted per client and in total,
 * each count with its cap. A slot is held until its release function is called (once is enough).
 */
export class ClientSlots {
  private readonly held = new Map<string, number>()
  private total = 0

  constructor(private readonly perClient: number, private readonly overall: number) {}

  /** A slot for `client`, or which cap is full: this client's own, or the server's. */
  take(client: string): (() => void) | 'client' | 'server' {
    const mine = this.held.get(client) ?? 0
    if (mine >= this.perClient) return 'client'
    if (this.total >= this.overall) return 'server'
    this.held.set(client, mine + 1)
    this.total++
    let released = false
    return () => {
      if (released) return
      released = true
      this.total--
      const left = (this.held.get(client) ?? 1) - 1
      if (left === 0) this.held.delete(client)
      else this.held.set(client, left)
    }
  }
}
