/**
 * GET /health, in the shape of the seed's HealthStatus plus loaded documents:
 *
 *   { status: "healthy" | "unhealthy", timestamp, uptime, database: { connected, latency },
 *     connections: { active }, documents: { loaded } }
 *
 * 200 when healthy, 503 otherwise. Unhealthy means the store cannot be reached, its writes are
 * failing (updates are queued but not acknowledged), or the server is shutting down, so a load
 * balancer stops sending new clients.
 */
import type { StoreHealth } from '../storage/types.js'

export interface HealthInputs {
  storeHealth (): Promise<StoreHealth>
  /** The last store write failed and updates are waiting. */
  writesFailing (): boolean
  shuttingDown (): boolean
  activeConnections (): number
  loadedDocuments (): number
}

export interface HealthReport {
  status: 'healthy' | 'unhealthy'
  timestamp: string
  uptime: number
  database: { connected: boolean, latency: number | null }
  connections: { active: number }
  documents: { loaded: number }
}

export async function healthReport (inputs: HealthInputs): Promise<HealthReport> {
  const store = await inputs.storeHealth()
  const connected = store.connected && !inputs.writesFailing()
  return {
    status: connected && !inputs.shuttingDown() ? 'healthy' : 'unhealthy',
    timestamp: new Date().toISOString(),
    uptime: Math.round(process.uptime() * 1000) / 1000,
    database: { connected, latency: store.latencyMs },
    connections: { active: inputs.activeConnections() },
    documents: { loaded: inputs.loadedDocuments() },
  }
}
