/**
 * What the crash tests share: numbered messages, a seeded plan of kills, and a check that a
 * sequence holds every message once, in order.
 */

export interface NumberedMessage {
  n: number
  pad: string
}

export interface PlannedKill {
  /** Due once this many messages are acknowledged. */
  at: number
  /** Right after a commit, with the answer dropped (every third kill). */
  dropAnswer: boolean
}

/** Kills at message counts spread over the run (5%–95%), drawn from `random`. */
export function planKills(random: () => number, messages: number, kills: number): PlannedKill[] {
  const points = Array.from({ length: kills }, () => Math.floor(messages * (0.05 + 0.9 * random()))).sort((a, b) => a - b)
  return points.map((at, i) => ({ at, dropAnswer: i % 3 === 1 }))
}

/** The next batch: up to `maxBatch` messages numbered from `from`, with random padding. */
export function numberedBatch(random: () => number, from: number, remaining: number, maxBatch: number): NumberedMessage[] {
  const size = Math.min(remaining, 1 + Math.floor(random() * maxBatch))
  return Array.from({ length: size }, (_, i) => ({ n: from + i, pad: 'x'.repeat(Math.floor(random() * 120)) }))
}

/** Positions where `ns` differs from 0, 1, 2 … `expected - 1`: the first few, for a readable failure. */
export function sequenceProblems(ns: number[], expected: number): string[] {
  const problems: string[] = []
  for (let i = 0; i < ns.length && problems.length < 5; i++) if (ns[i] !== i) problems.push(`[${i}]=${ns[i]}`)
  if (ns.length !== expected) problems.push(`length ${ns.length} instead of ${expected}`)
  return problems
}
