/**
 * Emitting server events without letting a listener break a connection: events are for
 * observers, so a listener that throws is logged and the connection carries on.
 */
import type { ServerContext, ServerEvents } from './context.js'

export function emitSafely<E extends keyof ServerEvents> (ctx: ServerContext, event: E, ...args: ServerEvents[E]): void {
  if (ctx.events.listenerCount(event) === 0) return
  try {
    const emit = ctx.events.emit as (this: unknown, e: E, ...a: ServerEvents[E]) => boolean
    emit.call(ctx.events, event, ...args)
  } catch (err) {
    ctx.log.error({ err, event }, 'event listener threw')
  }
}
