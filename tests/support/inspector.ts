/**
 * Memory of a server process seen from inside, through the V8 inspector (start the server with
 * NODE_OPTIONS=--inspect=127.0.0.1:0): a full garbage collection, then process.memoryUsage().
 * After a full GC, heapUsed is what the server really holds — RSS alone also moves with V8
 * resizing its young generation, with old-generation garbage not yet collected and with freed
 * memory the allocator keeps, none of which is a leak.
 */

export interface MemoryUsage {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export interface Inspector {
  /** Full GC, then process.memoryUsage() of the server (bytes). */
  memoryAfterGc(): Promise<MemoryUsage>
  close(): void
}

/** Connects to the inspector whose address the server printed ("Debugger listening on ws://…"). */
export async function connectInspector(log: () => string, timeoutMs = 10_000): Promise<Inspector> {
  const deadline = Date.now() + timeoutMs
  let url: string | undefined
  while (!(url = /Debugger listening on (ws:\/\/\S+)/.exec(log())?.[1])) {
    if (Date.now() > deadline) throw new Error('The server printed no inspector address (NODE_OPTIONS=--inspect=127.0.0.1:0?)')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const socket = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true })
    socket.addEventListener('error', () => reject(new Error(`Cannot connect to the inspector at ${url}`)), { once: true })
  })
  let nextId = 1
  const pending = new Map<number, { resolve: (result: any) => void, reject: (error: Error) => void }>()
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number, result?: unknown, error?: { message: string } }
    if (message.id === undefined) return
    const waiter = pending.get(message.id)
    pending.delete(message.id)
    if (message.error) waiter?.reject(new Error(message.error.message))
    else waiter?.resolve(message.result)
  })
  const call = (method: string, params: Record<string, unknown> = {}) => new Promise<any>((resolve, reject) => {
    const id = nextId++
    pending.set(id, { resolve, reject })
    socket.send(JSON.stringify({ id, method, params }))
  })
  return {
    async memoryAfterGc() {
      await call('HeapProfiler.collectGarbage')
      const result = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })
      return JSON.parse(result.result.value as string) as MemoryUsage
    },
    close() {
      socket.close()
    },
  }
}
