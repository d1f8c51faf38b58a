// Server render (node environment): the share link's HTML must carry the session before any script runs.
import { describe, expect, it } from 'vitest'
import { createSSRApp, h } from 'vue'
import { renderToString } from 'vue/server-renderer'
import SessionViewerLayout from '../../components/session/SessionViewerLayout.vue'
import { agentState, message, messages, presence, terminalLine, toolCall, workflowEvent } from './fixtures'

type LayoutProps = InstanceType<typeof SessionViewerLayout>['$props']

function render(props: LayoutProps) {
  return renderToString(createSSRApp({ render: () => h(SessionViewerLayout, props) }))
}

describe('server rendering', () => {
  it('renders the materialised session as inert HTML', async () => {
    const html = await render({
      title: 'SSR <session>',
      connectionState: 'reconnecting',
      nextRetryAt: Date.now() + 5000,
      messages: [message(0, 'Hello **world** <script>alert(1)</script> [x](javascript:alert(2))')],
      toolCalls: [toolCall('t1', 'complete', { duration: 1500 })],
      terminalLines: [terminalLine('l1', '\x1b[32mgreen\x1b[0m <img src=x onerror=alert(3)>')],
      workflow: [workflowEvent('req-1', 'approval:requested', { title: 'Ship it' })],
      participants: [presence('u1', { displayName: 'Ada', cursor: { x: 1, y: 2 } })],
      agentStates: [agentState({ progress: 30 })],
      canCollaborate: true,
    })
    expect(html).toContain('<strong>world</strong>')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).toContain('&lt;img src=x onerror=alert(3)&gt;')
    expect(html).not.toMatch(/<script|<img src=x|javascript:/)
    expect(html).toContain('SSR &lt;session&gt;')
    expect(html).toContain('data-testid="message"')
    expect(html).toContain('data-testid="tool-call" data-status="complete"')
    expect(html).toContain('class="ansi-fg-32"')
    expect(html).toContain('data-state="reconnecting"')
    // No clock on the server: the countdown and local times start after hydration.
    expect(html).toContain('Reconnecting…')
    expect(html).toMatch(/\d\d:\d\d:\d\d UTC/)
    // Cursors are client-only.
    expect(html).not.toContain('remote-cursor')
  })

  it('renders only the newest page of a long session', async () => {
    const html = await render({ title: 'Long', connectionState: 'live', messages: messages(10_000) })
    expect(html.match(/data-testid="message"/g)).toHaveLength(40)
  })
})
