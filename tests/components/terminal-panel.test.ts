// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import TerminalPanel from '../../components/session/TerminalPanel.vue'
import { moveInHistory, startHistory } from '../../lib/input-history'
import { terminalLine } from './fixtures'

const HISTORY = ['npm test', 'npm run build', 'ls'] // newest first

function mountTerminal(props: Partial<InstanceType<typeof TerminalPanel>['$props']> = {}) {
  return mount(TerminalPanel, { props: { lines: [], inputHistory: HISTORY, canWrite: true, ...props }, attachTo: document.body })
}

describe('TerminalPanel input', () => {
  it('is labelled and walks the history with ↑/↓, restoring the draft', async () => {
    const wrapper = mountTerminal()
    const input = wrapper.get<HTMLInputElement>('[data-testid="terminal-input"]')
    expect(wrapper.get(`label[for="${input.attributes('id')}"]`).text()).toBe('Terminal input')

    await input.setValue('echo draft')
    const values: string[] = []
    for (const key of ['ArrowUp', 'ArrowUp', 'ArrowUp', 'ArrowUp', 'ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowDown']) {
      await input.trigger('keydown', { key })
      values.push(input.element.value)
    }
    expect(values).toEqual(['npm test', 'npm run build', 'ls', 'ls', 'npm run build', 'npm test', 'echo draft', 'echo draft'])
    wrapper.unmount()
  })

  it('submits with Enter, then clears the input and restarts history', async () => {
    const wrapper = mountTerminal()
    const input = wrapper.get<HTMLInputElement>('[data-testid="terminal-input"]')
    await input.trigger('keydown', { key: 'ArrowUp' })
    await input.trigger('keydown', { key: 'ArrowUp' })
    await input.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('submit')).toEqual([['npm run build']])
    expect(input.element.value).toBe('')
    await input.trigger('keydown', { key: 'ArrowUp' })
    expect(input.element.value).toBe('npm test')

    await input.setValue('   ')
    await input.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('submit')).toHaveLength(1)

    await input.setValue('git status')
    await wrapper.get('form').trigger('submit')
    expect(wrapper.emitted('submit')).toEqual([['npm run build'], ['git status']])
    wrapper.unmount()
  })

  it('is read-only for viewers: disabled, explained, never submits', async () => {
    const wrapper = mountTerminal({ canWrite: false })
    const input = wrapper.get<HTMLInputElement>('[data-testid="terminal-input"]')
    expect(input.element.disabled).toBe(true)
    const hint = wrapper.get(`#${input.attributes('aria-describedby')}`)
    expect(hint.text()).toMatch(/read-only/i)
    await input.trigger('keydown', { key: 'Enter' })
    await wrapper.get('form').trigger('submit')
    expect(wrapper.emitted('submit')).toBeUndefined()
    expect(wrapper.find('button[type="submit"]').exists()).toBe(false)
    wrapper.unmount()
  })
})

describe('TerminalPanel output', () => {
  it('marks pending lines until confirmed', async () => {
    const wrapper = mountTerminal({
      lines: [
        terminalLine('a', '\x1b[32mok\x1b[0m'),
        terminalLine('b', 'npm test', { type: 'input', source: 'user', pending: true }),
      ],
    })
    const lines = wrapper.findAll('[data-testid="terminal-line"]')
    expect(lines.map(line => line.attributes('data-pending'))).toEqual(['false', 'true'])
    expect(lines[0]!.find('.ansi-fg-32').text()).toBe('ok')
    expect(lines[1]!.text()).toContain('sending…')

    await wrapper.setProps({ lines: [terminalLine('a', 'ok'), terminalLine('b', 'npm test', { type: 'input', source: 'user' })] })
    expect(wrapper.findAll('[data-pending="true"]')).toHaveLength(0)
    wrapper.unmount()
  })

  it('shows why the latest command was rolled back', async () => {
    const wrapper = mountTerminal()
    expect(wrapper.find('[data-testid="terminal-error"]').exists()).toBe(false)
    await wrapper.setProps({ rollbackError: 'Collaborator key required' })
    expect(wrapper.get('[data-testid="terminal-error"]').attributes('role')).toBe('alert')
    expect(wrapper.get('[data-testid="terminal-error"]').text()).toBe('Command not sent: Collaborator key required')
    wrapper.unmount()
  })
})

describe('moveInHistory', () => {
  it('does nothing past either end', () => {
    expect(moveInHistory(startHistory('x'), 'newer', HISTORY)).toBeNull()
    expect(moveInHistory(startHistory('x'), 'older', [])).toBeNull()
    const oldest = { index: 2, value: 'ls', draft: 'x' }
    expect(moveInHistory(oldest, 'older', HISTORY)).toBeNull()
  })
})
