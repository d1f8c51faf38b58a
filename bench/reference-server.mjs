// Starts the reference Durable Streams server (@durable-streams/server, installed as a
// devDependency) in this process, for the benchmark harness to compare against.
// Plain JavaScript on purpose: the reference runs on bare Node with no loader hooks, exactly as
// our built server (.output/server/index.mjs) does.
//
//   node bench/reference-server.mjs --port 4437 [--data-dir DIR]
//
// With --data-dir it is file-backed (append-only log files + LMDB metadata); without, in-memory.
// It serves a stream at any URL path, so the harness uses the same /v1/stream/<path> URLs as ours.
// Prints one line `READY <url>` on stdout when listening; exits on SIGTERM/SIGINT or when the
// harness goes away (stdin closes), so a killed harness never leaves it behind.
import { DurableStreamTestServer } from '@durable-streams/server'

function arg(name) {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}

const port = Number(arg('--port'))
const dataDir = arg('--data-dir')
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: reference-server.mjs --port N [--data-dir DIR]')
  process.exit(2)
}

const server = new DurableStreamTestServer({ port, host: '127.0.0.1', ...(dataDir ? { dataDir } : {}) })
const url = await server.start()
process.stdout.write(`READY ${url}\n`)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  const force = setTimeout(() => process.exit(0), 3000)
  force.unref()
  try {
    await server.stop()
  }
  finally {
    process.exit(0)
  }
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
