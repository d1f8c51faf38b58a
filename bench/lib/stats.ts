import { readFileSync, readdirSync } from 'node:fs'

/** Nearest-rank percentile of an already sorted array (p in 0..100); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export function summarize(samples: number[]): { count: number, p50: number, p99: number, max: number, mean: number } {
  const sorted = Float64Array.from(samples).sort()
  const sum = samples.reduce((a, b) => a + b, 0)
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN, 2),
    mean: round(sorted.length ? sum / sorted.length : Number.NaN, 2),
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return percentile(sorted, 50)
}

export function round(value: number, digits = 0): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Resident set size and its peak, in MB, from /proc/<pid>/status (Linux). */
export function readRss(pid: number): { rssMb: number, peakRssMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
    return { rssMb: round(kb('VmRSS') / 1024, 1), peakRssMb: round(kb('VmHWM') / 1024, 1) }
  }
  catch {
    return undefined
  }
}

const CLOCK_TICKS_PER_SECOND = 100

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
  }
  catch {
    return Number.NaN
  }
}

const PF_KTHREAD = 0x00200000

/**
 * CPU ticks (user + system) of every user-space process but `exclude`, by pid. Kernel threads
 * are left out: the I/O and loopback networking a server causes (journal commits of its
 * fsyncs, softirqs) runs there, and belongs to the server under test, not to noise.
 */
function otherProcessTicks(exclude: Set<number>): Map<number, number> {
  const ticks = new Map<number, number>()
  let entries: string[] = []
  try {
    entries = readdirSync('/proc')
  }
  catch {}
  for (const entry of entries) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || exclude.has(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[6]) & PF_KTHREAD) continue
      ticks.set(pid, Number(fields[11]) + Number(fields[12]))
    }
    catch {} // the process ended meanwhile
  }
  return ticks
}

/**
 * Measures the CPU used during a window, in % of one core: by the server process (from /proc),
 * by this client process, and by all other user-space processes. The first two tell whether a
 * figure was bound by the server or by the load generator; the third flags a noisy machine
 * (another build or test run competing for the two cores).
 */
export function cpuMeter(serverPid: number) {
  const exclude = new Set([serverPid, process.pid, process.ppid])
  const wallStart = performance.now()
  const serverStart = processCpuSeconds(serverPid)
  const othersStart = otherProcessTicks(exclude)
  const clientStart = process.cpuUsage()
  return () => {
    const wall = (performance.now() - wallStart) / 1000
    const client = process.cpuUsage(clientStart)
    let otherTicks = 0
    for (const [pid, ticks] of otherProcessTicks(exclude)) otherTicks += ticks - (othersStart.get(pid) ?? 0)
    return {
      serverCpuPct: round(((processCpuSeconds(serverPid) - serverStart) / wall) * 100),
      clientCpuPct: round(((client.user + client.system) / 1e6 / wall) * 100),
      otherCpuPct: round(Math.max(0, otherTicks / CLOCK_TICKS_PER_SECOND / wall) * 100),
    }
  }
}
