import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { runBridge } from './bridge/run'

const DEFAULT_SERVER = 'http://localhost:3000'

const HELP = `Usage: durable-sessions run [options] -- <command> [args...]

Runs <command> in a pseudo-terminal and mirrors it into a live Durable Sessions session:
its output goes to this terminal unchanged and to the session's terminal; what collaborators
type in the viewer goes to its stdin; the session's agent state follows the process.
The viewer and collaborate links are printed to stderr.

Options:
  --server URL        the Durable Sessions server (default: $DURABLE_SESSIONS_SERVER or ${DEFAULT_SERVER})
  --title T           title of the new session (default: the command line)
  --session ID        publish to this existing session instead of creating one (needs --token)
  --token T           the session's agent token
  --links-file F      also write {id, url, collaborateUrl, agentToken} to F as JSON (mode 0600)
  --keep-open         leave the session open when the command exits (default: close it)
  -h, --help          show this help
  -v, --version       show the version

The bridge exits with the command's exit code (128 + n when a signal ended it).

Examples:
  npx durable-sessions run -- claude
  npx durable-sessions run --session Qk3… --token … -- npm test
`

/** The command line: `run [options] -- <command> [args...]`, `--help`, `--version`. */
export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'server': { type: 'string' },
        'title': { type: 'string' },
        'session': { type: 'string' },
        'token': { type: 'string' },
        'links-file': { type: 'string' },
        'keep-open': { type: 'boolean' },
        'help': { type: 'boolean', short: 'h' },
        'version': { type: 'boolean', short: 'v' },
      },
    })
  }
  catch (error) {
    return usageError(`${(error as Error).message}. Put -- before the command when it has options of its own.`)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  if (values.version) {
    process.stdout.write(`${(createRequire(import.meta.url)('../package.json') as { version: string }).version}\n`)
    return 0
  }
  const [subcommand, command, ...args] = positionals
  if (subcommand !== 'run') return usageError(subcommand ? `unknown command "${subcommand}"` : 'missing command')
  if (!command) return usageError('run needs the command to run, after --')
  if (Boolean(values.session) !== Boolean(values.token)) return usageError('--session and --token go together')
  try {
    return await runBridge({
      server: values.server ?? process.env.DURABLE_SESSIONS_SERVER ?? DEFAULT_SERVER,
      title: values.title,
      sessionId: values.session,
      token: values.token,
      linksFile: values['links-file'],
      keepOpen: values['keep-open'],
      command,
      args,
    })
  }
  catch (error) {
    process.stderr.write(`durable-sessions: ${(error as Error).message}\n`)
    return 1
  }
}

function usageError(message: string): number {
  process.stderr.write(`durable-sessions: ${message}\n\n${HELP}`)
  return 2
}

const code = await main(process.argv.slice(2))
// Exit explicitly: a session left open (--keep-open) would otherwise keep following it.
process.stdout.write('', () => process.exit(code))
