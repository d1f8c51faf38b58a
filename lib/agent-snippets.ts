/**
 * How to connect an agent, as shown in the app: the terminal bridge command and the SDK in a few
 * lines, for a new session (the home page) or for an empty one its creator holds the agent token
 * of. Session ids and agent tokens are URL-safe base64 and origins are URLs, so nothing here needs
 * shell or string escaping.
 */
export interface AgentConnection {
  /** The app's origin, e.g. `https://sessions.example.com`. */
  server: string
  sessionId: string
  agentToken: string
}

const run = (server: string, session = '') => `npx durable-sessions run --server ${server}${session} -- <your agent>`

/** Runs an agent in a new session (the bridge creates it and prints its links). */
export function newSessionCommand(server: string): string {
  return run(server)
}

export function newSessionSnippet(server: string): string {
  return [
    `import { createSession } from '@durable-sessions/agent'`,
    `const session = await createSession({ server: '${server}', title: 'My agent' })`,
    `console.log(session.collaborateUrl)`,
    `await session.text('Hello from my agent')`,
    `await session.close({ status: 'completed' })`,
  ].join('\n')
}

/** Runs an agent in an existing session, as its agent. */
export function bridgeCommand({ server, sessionId, agentToken }: AgentConnection): string {
  return run(server, ` --session ${sessionId} --token ${agentToken}`)
}

export function sdkSnippet({ server, sessionId, agentToken }: AgentConnection): string {
  return [
    `import { attachSession } from '@durable-sessions/agent'`,
    `const session = attachSession({ server: '${server}', sessionId: '${sessionId}', agentToken: '${agentToken}' })`,
    `await session.text('Hello from my agent')`,
    `session.onInput(input => console.log('A collaborator typed', input.data))`,
    `await session.close({ status: 'completed' })`,
  ].join('\n')
}
