/**
 * One interval for all sockets (as the ws README recommends), not a timer per connection.
 * Each tick pings every connection and terminates those that stayed silent since the previous
 * tick; a terminated connection leaves its rooms, which removes its awareness states.
 */
import type { SocketConnection } from './socket-connection.js'

/** Starts the heartbeat. @returns a function that stops it. */
export function startHeartbeat (connections: Iterable<SocketConnection>, intervalMs: number): () => void {
  const timer = setInterval(() => {
    for (const connection of connections) connection.heartbeat()
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
