/**
 * Every name and address of a session in one place: its streams' names (the keys the stream store
 * keeps), their URLs under the protocol endpoint, the session API and the pages. The server, the
 * Vue client and the agent SDK all build them here. URL builders return paths below the server's
 * origin; prepend the origin for an absolute URL.
 */

/** URL prefix of every stream of the Durable Streams protocol. */
export const STREAM_BASE_PATH = '/v1/stream/'
/** The session API: `POST` creates, `GET` lists; one session is `sessionApiPath(id)`. */
export const SESSIONS_API_PATH = '/api/sessions'

export const sessionStreamPath = (sessionId: string) => `sessions/${sessionId}`
/** Presence has its own stream: cursor moves must not grow the history every viewer replays. */
export const presenceStreamPath = (sessionId: string) => `${sessionStreamPath(sessionId)}/presence`
export const agentStreamPath = (agentId: string) => `agents/${agentId}`

/**
 * One path segment. Session ids are URL-safe base64 and agent ids keep to `[\w.:-]`, so a valid id
 * comes out unchanged (`:` is allowed in a path); anything else is escaped.
 */
function segment(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':')
}

/** The URL path of a stream: `/v1/stream/sessions/<id>` for `sessionStreamPath(id)`. */
export const streamUrlPath = (streamPath: string) => `${STREAM_BASE_PATH}${streamPath.split('/').map(segment).join('/')}`

/** `/api/sessions/<id>`, or with an action `/api/sessions/<id>/events`. */
export const sessionApiPath = (sessionId: string, action?: 'events' | 'presence' | 'close' | 'demo' | 'snapshot' | 'history' | 'og.png') =>
  `${SESSIONS_API_PATH}/${segment(sessionId)}${action ? `/${action}` : ''}`

export const SESSIONS_LOOKUP_PATH = `${SESSIONS_API_PATH}/lookup`
/** Which agents the server runs in sessions (the built-in AI agent, and how to configure it). */
export const AGENTS_API_PATH = '/api/agents'

/** The viewer page (the viewer link; with `?key=` the collaborate link). */
export const sessionPagePath = (sessionId: string) => `/sessions/${segment(sessionId)}`
/** The session's conversation with its agent as an AI SDK `Chat` page. */
export const chatPagePath = (sessionId: string) => `${sessionPagePath(sessionId)}/chat`
/** The viewer for iframes. */
export const embedPagePath = (sessionId: string) => `/embed/sessions/${segment(sessionId)}`
