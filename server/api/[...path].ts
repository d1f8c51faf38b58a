import { SessionError } from '../sessions/errors'

/** Unknown API paths answer a JSON 404, not the app's HTML error page. */
export default defineApiHandler((event) => {
  throw new SessionError('not_found', `No API route ${event.method} ${event.path.split('?')[0]}`)
})
