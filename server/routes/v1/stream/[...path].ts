/** Every protocol method on every stream path: a thin adapter onto the framework-free handler. */
export default defineEventHandler(event =>
  useStreamHttp().handle(event.node.req, event.node.res, getRequestURL(event)))
