/**
 * Seeded pseudo-random numbers for tests that draw a random plan (kill points, batch sizes,
 * padding, payload bytes): a fixed, printed seed makes every run draw the same plan, so the
 * verdict never depends on luck; `<LABEL>_SEED=<n>` draws another one (e.g. CRASH_SEED=7).
 */
export function seededRandom(label: string, fixedSeed: number): () => number {
  const variable = `${label.toUpperCase().replace(/\W+/g, '_')}_SEED`
  const seed = process.env[variable] === undefined ? fixedSeed : Number(process.env[variable])
  console.info(`[${label}] seed ${seed} (${variable} draws another plan)`)
  return mulberry32(seed)
}

/** Bytes from a seeded generator. */
export function seededBytes(random: () => number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)))
}

/** Mulberry32: a small, well-mixed 32-bit generator; plenty for test plans. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
