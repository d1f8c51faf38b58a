/**
 * Summarizes a V8 .cpuprofile (from `npm run bench -- --cpu-prof …`): the top functions by self
 * time, inclusive time of our own functions, and self time per source file. Frames of the bundled server (.output/server/…, or the
 * copy of it that `--cpu-prof` keeps next to the profiles) are mapped back to their sources
 * (server/streams/*.ts, …) through the build's .map files.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 30] [--window A-B | --from ms --to ms]
 *
 * --window restricts the summary to one workload: the harness logs each workload's span as
 * `--window A-B` (µs on the monotonic clock V8 stamps profiles with). --from/--to do the same
 * in ms since profiling started.
 */
import { existsSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { fileURLToPath } from 'node:url'
import { relative } from 'node:path'
import { parseArgs } from 'node:util'

interface CallFrame { functionName: string, url: string, lineNumber: number, columnNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, from: { type: 'string' }, to: { type: 'string' }, window: { type: 'string' } },
})
const file = positionals[0]
if (!file) {
  console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 30] [--window A-B | --from ms --to ms]')
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
const top = Number(values.top)
let fromMs = values.from === undefined ? -Infinity : Number(values.from)
let toMs = values.to === undefined ? Infinity : Number(values.to)
if (values.window) {
  const [a, b] = values.window.split('-').map(Number)
  fromMs = (a! - profile.startTime) / 1000
  toMs = (b! - profile.startTime) / 1000
}

const maps = new Map<string, SourceMap | null>()
function sourceMapFor(url: string): SourceMap | null {
  if (!maps.has(url)) {
    let map: SourceMap | null = null
    try {
      const path = url.startsWith('file://') ? fileURLToPath(url) : url
      if (/\/\.?output\/server\//.test(path) && existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')))
    }
    catch {}
    maps.set(url, map)
  }
  return maps.get(url)!
}

function describe(frame: CallFrame): { name: string, file: string } {
  const name = frame.functionName || '(anonymous)'
  if (!frame.url) return { name, file: name.startsWith('(') ? name : '(native)' }
  const map = sourceMapFor(frame.url)
  if (map) {
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string, originalLine?: number }
    if (entry.originalSource) {
      const source = entry.originalSource.replace(/^.*?\/work\/main\//, '').replace(/^(\.\.\/)+/, '')
      return { name: `${name}  ${source}:${(entry.originalLine ?? 0) + 1}`, file: source }
    }
  }
  let path = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url
  if (path.startsWith('/')) path = relative(process.cwd(), path)
  path = path.replace(/^.*node_modules\//, 'node_modules/')
  return { name: `${name}  ${path}:${frame.lineNumber + 1}`, file: path }
}

const byId = new Map(profile.nodes.map(node => [node.id, node]))
const parentOf = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
const selfByNode = new Map<number, number>()
let t = 0
let total = 0
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0
  t += delta
  const ms = t / 1000
  if (ms < fromMs || ms > toMs) return
  selfByNode.set(id, (selfByNode.get(id) ?? 0) + delta)
  total += delta
})

const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
let idle = 0
for (const [id, micros] of selfByNode) {
  const frame = byId.get(id)!.callFrame
  if (frame.functionName === '(idle)') idle += micros
  const { name, file } = describe(frame)
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
  byFile.set(file, (byFile.get(file) ?? 0) + micros)
}

// Inclusive time (self + callees) of our own functions (server/…, shared/…): what each costs.
const describedById = new Map<number, { name: string, file: string }>()
const describeNode = (id: number) => {
  let described = describedById.get(id)
  if (!described) describedById.set(id, (described = describe(byId.get(id)!.callFrame)))
  return described
}
const inclusive = new Map<string, number>()
for (const [id, micros] of selfByNode) {
  const seen = new Set<string>()
  for (let node: number | undefined = id; node !== undefined; node = parentOf.get(node)) {
    const { name, file } = describeNode(node)
    if (!/^(server|shared)\//.test(file) || seen.has(name)) continue
    seen.add(name)
    inclusive.set(name, (inclusive.get(name) ?? 0) + micros)
  }
}

const ms = (micros: number) => `${(micros / 1000).toFixed(0).padStart(7)} ms`
const pct = (micros: number) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`
console.log(`${file}\nwindow: ${(total / 1000).toFixed(0)} ms sampled, busy ${(((total - idle) / total) * 100).toFixed(0)}% (idle ${ms(idle).trim()})\n`)
console.log(`Top ${top} functions by self time:`)
for (const [name, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(micros)} ${pct(micros)}  ${name}`)
console.log('\nInclusive time (self + callees) of our functions (server/, shared/):')
for (const [name, micros] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(micros)} ${pct(micros)}  ${name}`)
console.log('\nSelf time by source file:')
for (const [name, micros] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(micros)} ${pct(micros)}  ${name}`)
