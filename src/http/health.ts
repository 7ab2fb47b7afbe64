/**
 * GET /health, in the shape of the seed's HealthStatus plus loaded documents:
 *
 *   { status: "healthy" | "degraded" | "unhealthy", timestamp, uptime,
 *     database: { connected, latency }, redis?: { connected, latency },
 *     connections: { active }, documents: { loaded } }
 *
 * 503 when unhealthy, 200 otherwise. Unhealthy means the store cannot be reached, its writes are
 * failing (updates are queued but not acknowledged), or the server is shutting down, so a load
 * balancer stops sending new clients. Degraded means Redis is down (REDIS_URL): this instance
 * still serves its clients and writes their edits, but they do not reach clients of the other
 * instances until Redis is back; sending clients elsewhere would not help, so it stays 200.
 */
import type { StoreHealth } from '../storage/types.js'

export interface HealthInputs {
  storeHealth (): Promise<StoreHealth>
  /** Null without REDIS_URL. */
  redisHealth: (() => Promise<{ connected: boolean, latency: number | null }>) | null
  /** The last store write failed and updates are waiting. */
  writesFailing (): boolean
  shuttingDown (): boolean
  activeConnections (): number
  loadedDocuments (): number
}

export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy'
  timestamp: string
  uptime: number
  database: { connected: boolean, latency: number | null }
  /** Present with REDIS_URL. */
  redis?: { connected: boolean, latency: number | null }
  connections: { active: number }
  documents: { loaded: number }
}

export async function healthReport (inputs: HealthInputs): Promise<HealthReport> {
  const [store, redis] = await Promise.all([inputs.storeHealth(), inputs.redisHealth?.() ?? null])
  const connected = store.connected && !inputs.writesFailing()
  const status = !connected || inputs.shuttingDown() ? 'unhealthy' : redis !== null && !redis.connected ? 'degraded' : 'healthy'
  return {
    status,
    timestamp: new Date().toISOString(),
    uptime: Math.round(process.uptime() * 1000) / 1000,
    database: { connected, latency: store.latencyMs },
    ...(redis === null ? {} : { redis }),
    connections: { active: inputs.activeConnections() },
    documents: { loaded: inputs.loadedDocuments() },
  }
}
