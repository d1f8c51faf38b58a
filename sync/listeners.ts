/**
 * The callbacks that the holders of a shared subscription or feed registered. Each is called in
 * turn; one that throws is logged and does not keep the others from being called.
 */
export class Listeners<T extends object> {
  private readonly listeners = new Set<T>()

  /** @param what names the callbacks in the log, e.g. `subscription`. */
  constructor(private readonly what: string) {}

  /** Adds callbacks; returns their remover. */
  add(callbacks: T): () => void {
    this.listeners.add(callbacks)
    return () => {
      this.listeners.delete(callbacks)
    }
  }

  emit(call: (listener: T) => void): void {
    for (const listener of [...this.listeners]) {
      try {
        call(listener)
      }
      catch (error) {
        console.error(`[sessions] ${this.what} callback failed`, error)
      }
    }
  }
}
