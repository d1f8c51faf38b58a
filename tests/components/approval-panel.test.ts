// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import ApprovalPanel from '../../components/session/ApprovalPanel.vue'
import { workflowEvent } from './fixtures'

const workflow = [
  workflowEvent('req-1', 'approval:requested', { title: 'Run migrations', description: 'Applies 0002_users.sql' }, { actor: 'agent-1' }),
  workflowEvent('req-2', 'approval:requested', { title: 'Deploy to staging' }),
  workflowEvent('req-3', 'approval:requested', { title: 'Delete branch' }),
  workflowEvent('dec-3', 'approval:rejected', { requestId: 'req-3', reason: 'Still needed' }, { actor: 'Ada' }),
  workflowEvent('wt-1', 'worktree:created', { branch: 'feat/login' }, { actor: 'agent-1' }),
  workflowEvent('wt-2', 'worktree:merged', { branch: 'feat/login' }),
]

describe('ApprovalPanel', () => {
  it('lists undecided requests with title and description', () => {
    const wrapper = mount(ApprovalPanel, { props: { workflow, canCollaborate: true } })
    const requests = wrapper.findAll('article')
    expect(requests.map(request => request.attributes('data-request-id'))).toEqual(['req-1', 'req-2'])
    expect(requests[0]!.text()).toContain('Run migrations')
    expect(requests[0]!.text()).toContain('Applies 0002_users.sql')
    expect(requests[0]!.text()).toContain('Requested by agent-1')
  })

  it('emits approve / reject with the request id', async () => {
    const wrapper = mount(ApprovalPanel, { props: { workflow, canCollaborate: true } })
    const approve = wrapper.findAll('[data-testid="approve"]')
    const reject = wrapper.findAll('[data-testid="reject"]')
    expect(approve).toHaveLength(2)
    expect(approve[0]!.attributes('aria-label')).toBe('Approve: Run migrations')
    await approve[1]!.trigger('click')
    await reject[0]!.trigger('click')
    expect(wrapper.emitted('approve')).toEqual([['req-2', undefined]])
    expect(wrapper.emitted('reject')).toEqual([['req-1', undefined]])
  })

  it('sends the reason typed for a decision with it', async () => {
    const wrapper = mount(ApprovalPanel, { props: { workflow, canCollaborate: true } })
    await wrapper.findAll('[data-testid="decision-reason"]')[0]!.setValue('  Not on a Friday ')
    await wrapper.findAll('[data-testid="reject"]')[0]!.trigger('click')
    expect(wrapper.emitted('reject')).toEqual([['req-1', 'Not on a Friday']])
  })

  it('has no decision buttons for viewers', () => {
    const wrapper = mount(ApprovalPanel, { props: { workflow, canCollaborate: false } })
    expect(wrapper.find('[data-testid="approve"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="reject"]').exists()).toBe(false)
    expect(wrapper.text()).toContain('Only collaborators can approve or reject')
  })

  it('shows the history of decisions and worktree events, newest first, with who', () => {
    const wrapper = mount(ApprovalPanel, { props: { workflow } })
    const entries = wrapper.findAll('.history > li')
    expect(entries.map(entry => entry.find('[data-workflow-type]').attributes('data-workflow-type'))).toEqual(['worktree:merged', 'worktree:created', 'approval:rejected'])
    expect(entries[2]!.text()).toContain('Rejected — Delete branch')
    expect(entries[2]!.text()).toContain('Still needed')
    expect(entries[2]!.text()).toContain('by Ada')
    expect(entries[1]!.text()).toContain('Worktree created — feat/login')
  })

  it('moves focus to the next request once a decided one leaves the list', async () => {
    const wrapper = mount(ApprovalPanel, { props: { workflow, canCollaborate: true }, attachTo: document.body })
    const first = wrapper.get<HTMLButtonElement>('[data-testid="approve"]')
    first.element.focus()
    await first.trigger('click')
    await wrapper.setProps({ workflow: [...workflow, workflowEvent('dec-1', 'approval:approved', { requestId: 'req-1' })] })
    await new Promise(resolve => setTimeout(resolve))
    expect(document.activeElement?.getAttribute('aria-label')).toBe('Approve: Deploy to staging')
    wrapper.unmount()
  })
})
