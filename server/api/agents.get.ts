/** The agents this server can run in a session: the built-in AI agent when a model is configured, and how to configure one. */
export default defineEventHandler(() => serverAgents())
