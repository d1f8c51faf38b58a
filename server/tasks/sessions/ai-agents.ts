/** Every minute: the built-in AI agent takes over sessions waiting for an answer whose instance has gone. */
export default defineTask({
  meta: { name: 'sessions:ai-agents', description: 'Resume the built-in AI agent where no instance runs it' },
  async run() {
    await resumeAiAgents()
    return { result: 'ok' }
  },
})
