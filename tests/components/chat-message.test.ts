// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import type { UIMessage } from 'ai'
import { describe, expect, it } from 'vitest'
import ChatMessage from '../../components/chat/ChatMessage.vue'

const awaiting: UIMessage = {
  id: 'p1.answer',
  role: 'assistant',
  parts: [
    { type: 'reasoning', text: 'The user wants a line.' },
    { type: 'text', text: 'Writing **now**.' },
    { type: 'dynamic-tool', toolName: 'write_to_terminal', toolCallId: 'c1', state: 'approval-requested', input: { text: 'hi' }, approval: { id: 'approval-1' } },
  ],
}

describe('ChatMessage', () => {
  it('renders the user\'s text as typed, never as HTML or Markdown', () => {
    const text = '<img src=x onerror="alert(1)"> **not bold**'
    const wrapper = mount(ChatMessage, { props: { message: { id: 'p1', role: 'user', parts: [{ type: 'text', text }] } } })
    const shown = wrapper.get('[data-testid="chat-text"]')
    expect(shown.text()).toBe(text)
    expect(shown.find('img').exists()).toBe(false)
    expect(shown.find('strong').exists()).toBe(false)
  })

  it('renders the answer\'s Markdown, its reasoning and a tool waiting for approval; a collaborator approves or denies by approval id', async () => {
    const wrapper = mount(ChatMessage, { props: { message: awaiting, canDecide: true } })
    expect(wrapper.get('[data-testid="chat-text"] strong').text()).toBe('now')
    expect(wrapper.get('[data-testid="chat-reasoning"]').text()).toContain('The user wants a line.')
    const tool = wrapper.get('[data-testid="chat-tool"]')
    expect(tool.attributes('data-state')).toBe('approval-requested')
    expect(tool.get('[data-testid="chat-tool-state"]').text()).toBe('waiting for approval')
    await tool.get('[data-testid="chat-approve"]').trigger('click')
    await tool.get('[data-testid="chat-deny"]').trigger('click')
    expect(wrapper.emitted('approve')).toEqual([['approval-1']])
    expect(wrapper.emitted('deny')).toEqual([['approval-1']])
  })

  it('offers a viewer no decision, and shows a tool\'s output and errors', () => {
    const viewer = mount(ChatMessage, { props: { message: awaiting } })
    expect(viewer.find('[data-testid="chat-approve"]').exists()).toBe(false)
    expect(viewer.get('[data-testid="chat-approval"]').text()).toContain('A collaborator decides.')

    const done = mount(ChatMessage, {
      props: {
        message: {
          id: 'p2.answer',
          role: 'assistant',
          parts: [
            { type: 'dynamic-tool', toolName: 'list_people', toolCallId: 'c2', state: 'output-available', input: {}, output: { people: ['Ada'] } },
            { type: 'dynamic-tool', toolName: 'get_time', toolCallId: 'c3', state: 'output-error', input: {}, errorText: 'clock stopped' },
          ],
        },
      },
    })
    const [listed, failed] = done.findAll('[data-testid="chat-tool"]')
    expect(JSON.parse(listed!.get('[data-testid="chat-tool-output"]').text())).toEqual({ people: ['Ada'] })
    expect(failed!.text()).toContain('clock stopped')
  })
})
