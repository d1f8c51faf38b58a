/**
 * What an empty session shows its creator to connect an agent: the terminal bridge command and
 * the SDK in five lines. Session ids and agent tokens are URL-safe base64 and origins are URLs,
 * so nothing here needs shell or string escaping.
 */
export interface AgentConnection {
  /** The app's origin, e.g. `https://sessions.example.com`. */
  server: string
  sessionId: string
  agentToken: string
}

export function bridgeCommand({ server, sessionId, agentToken }: AgentConnection): string {
  return `npx durable-sessions run --server ${server} --session ${sessionId} --token ${agentToken} -- <your agent>`
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
