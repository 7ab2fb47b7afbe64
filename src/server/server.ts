/**
 * The collabd server: accepts WebSocket upgrades on `wsPath`, routes each to its protocol's
 * connection class, serves the HTTP routes, runs the heartbeat, and shuts down gracefully.
 *
 * It can own its HTTP server (`listen`) or be attached to an application's (`attach`), in which
 * case it only answers upgrades under `wsPath` and leaves every other request and upgrade to
 * the application.
 */
import { EventEmitter } from 'node:events'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { credentialsFromRequest } from '../auth/credentials.js'
import type { Authenticator, Authorizer } from '../auth/types.js'
import type { Config } from '../config.js'
import type { ClusterNode } from '../documents/cluster.js'
import type { Durability } from '../documents/durability.js'
import type { Registry } from '../documents/registry.js'
import { warmUpYjs } from '../documents/warm-up.js'
import { CloseCode } from '../errors.js'
import { healthReport, type HealthReport } from '../http/health.js'
import { createRouter, notFound, sendJson, type HttpRoute } from '../http/routes.js'
import { adminRoutes } from '../http/admin.js'
import type { Logger } from '../log.js'
import type { DocumentStore } from '../storage/types.js'
import type { ServerContext, ServerEvents } from './context.js'
import { nameProblem } from './admission.js'
import { emitSafely } from './events.js'
import { startHeartbeat } from './heartbeat.js'
import { startSessionRecheck } from './session-recheck.js'
import { HocuspocusConnection } from './hocuspocus-connection.js'
import { routeUpgrade } from './routing.js'
import type { SocketConnection } from './socket-connection.js'
import { YWebsocketConnection } from './y-websocket-connection.js'

/** What the server runs, built by the composition root (createServer in src/index.ts). */
export interface CollabServerParts {
  readonly config: Config
  readonly log: Logger
  readonly store: DocumentStore
  readonly durability: Durability
  readonly registry: Registry
  /** The other instances (REDIS_URL), or null when this one is alone. */
  readonly cluster: ClusterNode | null
  readonly authenticator: Authenticator
  readonly authorizer: Authorizer
}

export interface ShutdownResult {
  /** Every pending update was written and every document compacted before the deadline. */
  readonly clean: boolean
  readonly ms: number
}

export class CollabServer extends EventEmitter<ServerEvents> {
  readonly config: Config
  readonly log: Logger
  readonly store: DocumentStore
  readonly registry: Registry
  readonly durability: Durability
  /** The other instances (REDIS_URL), or null. */
  readonly cluster: ClusterNode | null
  private readonly ctx: ServerContext
  private readonly wss: WebSocketServer
  private readonly connections = new Set<SocketConnection>()
  private readonly ownedServers: http.Server[] = []
  private readonly attachedServers: Array<{ server: http.Server, listener: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void }> = []
  private readonly route: (req: http.IncomingMessage, res: http.ServerResponse) => boolean
  private opening: Promise<void> | null = null
  private stopHeartbeat: (() => void) | null = null
  private stopSessionRecheck: (() => void) | null = null
  private shuttingDown = false
  private closing: Promise<ShutdownResult> | null = null
  private connectionsGoneWaiters: Array<() => void> = []

  constructor (parts: CollabServerParts) {
    super()
    this.config = parts.config
    this.log = parts.log
    this.store = parts.store
    this.durability = parts.durability
    this.cluster = parts.cluster
    this.registry = parts.registry
    this.ctx = {
      config: parts.config,
      log: parts.log,
      registry: this.registry,
      authenticator: parts.authenticator,
      authorizer: parts.authorizer,
      events: this,
    }
    this.registry.on('loaded', (e) => emitSafely(this.ctx, 'document-loaded', e))
    this.registry.on('unloaded', (e) => emitSafely(this.ctx, 'document-unloaded', e))
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      // ws accepts 100 MiB messages unless told otherwise.
      maxPayload: parts.config.maxMessageBytes,
      perMessageDeflate: false,
    })
    this.route = createRouter(this.httpRoutes())
  }

  /** Opens the store (runs migrations), warms up Yjs (WARM_UP) and starts the heartbeat. Idempotent. */
  start (): Promise<void> {
    this.opening ??= (async () => {
      await this.store.open()
      if (this.cluster !== null) {
        if (this.store.kind !== 'postgres') this.log.warn({ storage: this.store.kind }, 'REDIS_URL is set but the store is not PostgreSQL: every instance must use the same store, or documents diverge')
        await this.cluster.start(this.registry)
        if (this.cluster.connected) this.log.info({ instance: this.cluster.instanceId }, 'joined the other instances over Redis')
      }
      if (this.config.warmUp) warmUpYjs()
      this.stopHeartbeat = startHeartbeat(this.connections, this.config.heartbeatIntervalMs)
      this.stopSessionRecheck = startSessionRecheck(this.ctx.authenticator, this.connections, this.config.auth.sessionRecheckMs, this.log)
    })()
    return this.opening
  }

  /**
   * Starts its own HTTP server on `port` (default: config.port, 0 for any free port), plus the
   * health port when configured. @returns the main server's address.
   */
  async listen (port = this.config.port, host = this.config.host): Promise<AddressInfo> {
    await this.start()
    const server = http.createServer((req, res) => {
      if (!this.route(req, res)) notFound(res)
    })
    server.on('upgrade', (req, socket, head) => {
      if (!this.handleUpgrade(req, socket, head)) rejectUpgrade(socket, 404, 'Not Found')
    })
    const address = await listenOn(server, port, host)
    this.ownedServers.push(server)
    let healthPort: number | null = null
    if (this.config.healthPort !== null) {
      // The health port serves only the health route, with the main port's rules (405 for
      // another method, 404 for another path).
      const healthRoute = createRouter(this.httpRoutes().filter((r) => r.path === '/health'))
      const healthServer = http.createServer((req, res) => {
        if (!healthRoute(req, res)) notFound(res)
      })
      healthPort = (await listenOn(healthServer, this.config.healthPort, host)).port
      this.ownedServers.push(healthServer)
    }
    // The one line that says where to connect, for library users as for `collabd start` (and
    // what `collabd bench` waits for: msg "listening" with the port).
    this.log.info({ port: address.port, host, healthPort, wsPath: this.config.wsPath, storage: this.store.kind }, 'listening')
    return address
  }

  /**
   * Serves collabd on an existing HTTP server: upgrades under `wsPath` are ours, every other
   * request and upgrade is left to the application. Use `handleRequest` to also serve /health.
   */
  async attach (server: http.Server): Promise<void> {
    await this.start()
    const listener = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
      this.handleUpgrade(req, socket, head)
    }
    server.on('upgrade', listener)
    this.attachedServers.push({ server, listener })
  }

  /** Answers collabd's HTTP routes (e.g. /health). @returns false when the path is not one of them. */
  handleRequest (req: http.IncomingMessage, res: http.ServerResponse): boolean {
    return this.route(req, res)
  }

  /**
   * Takes an upgrade request if its path is under `wsPath`.
   * @returns false when the path is not ours (the socket is untouched).
   */
  handleUpgrade (req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    try {
      return this.upgrade(req, socket, head)
    } catch (err) {
      // Nothing a client sends may escape an 'upgrade' listener: that would end the process.
      this.log.error({ err, path: (req.url ?? '').split('?', 1)[0] }, 'upgrade failed')
      rejectUpgrade(socket, 500, 'Internal Server Error')
      return true
    }
  }

  private upgrade (req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://localhost')
    } catch {
      rejectUpgrade(socket, 400, 'Bad Request')
      return true
    }
    const route = routeUpgrade(rawPath(req.url ?? '/', url), this.config.wsPath)
    if (route === null) return false
    if (route.protocol === 'invalid') {
      rejectUpgrade(socket, 400, route.reason)
      return true
    }
    if (this.shuttingDown || this.opening === null) {
      rejectUpgrade(socket, 503, 'Service Unavailable')
      return true
    }
    if (this.connections.size >= this.config.maxConnections) {
      this.log.warn({ limit: this.config.maxConnections }, 'connection limit reached; refusing connection')
      rejectUpgrade(socket, 503, 'Service Unavailable')
      return true
    }
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const credentials = credentialsFromRequest(req, url)
      const onGone = (c: SocketConnection): void => this.connectionGone(c)
      if (route.protocol === 'hocuspocus') {
        this.connections.add(new HocuspocusConnection(this.ctx, ws, socket, credentials, onGone))
      } else {
        const connection = new YWebsocketConnection(this.ctx, ws, socket, credentials, route.documentName, onGone)
        this.connections.add(connection)
        void connection.start()
      }
    })
    return true
  }

  /**
   * Sends a stateless message to every Hocuspocus client of a document: on this instance if it
   * is loaded here, and with REDIS_URL on every other instance that has it loaded.
   */
  broadcastStateless (documentName: string, payload: string): void {
    this.registry.get(documentName)?.broadcastStateless(payload)
    this.cluster?.publishStateless(documentName, payload)
  }

  get activeConnections (): number {
    return this.connections.size
  }

  async health (): Promise<HealthReport> {
    const cluster = this.cluster
    return await healthReport({
      storeHealth: async () => await this.store.health(),
      redisHealth: cluster === null ? null : async () => await cluster.health(),
      writesFailing: () => this.durability.failure !== null,
      shuttingDown: () => this.shuttingDown,
      activeConnections: () => this.connections.size,
      loadedDocuments: () => this.registry.size,
    })
  }

  /**
   * Graceful shutdown: stop accepting, stop reading, write every pending update (acknowledging
   * it), close clients with 1012 so providers reconnect elsewhere, unload (compact) every
   * document, close the store. Bounded by config.shutdownTimeoutMs. Idempotent.
   */
  close (): Promise<ShutdownResult> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown (): Promise<ShutdownResult> {
    const start = Date.now()
    const deadline = start + this.config.shutdownTimeoutMs
    this.shuttingDown = true
    this.stopHeartbeat?.()
    this.stopSessionRecheck?.()
    for (const server of this.ownedServers) server.close()
    for (const { server, listener } of this.attachedServers) server.off('upgrade', listener)
    this.log.info({ connections: this.connections.size, documents: this.registry.size, pendingUpdates: this.durability.pendingUpdates }, 'shutting down')
    for (const c of this.connections) c.pause()

    const drained = await beforeDeadline(this.durability.drain(), deadline)
    if (!drained) this.log.error({ pendingUpdates: this.durability.pendingUpdates }, 'shutdown deadline passed before every update was written; they were not acknowledged')

    for (const c of this.connections) c.close(CloseCode.serviceRestart, 'server restarting')
    // Give clients a moment to answer the close handshake, then drop the rest.
    await beforeDeadline(this.connectionsGone(), Math.min(deadline, Date.now() + 2000))
    for (const c of this.connections) c.terminate()

    const unloaded = drained && await beforeDeadline(this.registry.unloadAll(), deadline)
    if (drained && !unloaded) this.log.error('shutdown deadline passed before every document was compacted; the update log still has everything')
    // After the unloads, so the others have heard that every update published here is durable.
    await this.cluster?.shutdown()
    this.durability.stop()
    try {
      await this.store.close()
    } catch (err) {
      this.log.error({ err }, 'closing the store failed')
    }
    try {
      await this.ctx.authenticator.close?.()
    } catch (err) {
      this.log.error({ err }, 'closing the authenticator failed')
    }
    for (const server of this.ownedServers) server.closeAllConnections()
    const result = { clean: drained && unloaded, ms: Date.now() - start }
    this.log.info(result, 'shut down')
    return result
  }

  private connectionGone (connection: SocketConnection): void {
    this.connections.delete(connection)
    if (this.connections.size === 0 && this.connectionsGoneWaiters.length > 0) {
      const waiters = this.connectionsGoneWaiters
      this.connectionsGoneWaiters = []
      for (const w of waiters) w()
    }
  }

  private connectionsGone (): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.connectionsGoneWaiters.push(resolve))
  }

  private async serveHealth (res: http.ServerResponse): Promise<void> {
    const report = await this.health()
    sendJson(res, report.status === 'unhealthy' ? 503 : 200, report)
  }

  private httpRoutes (): HttpRoute[] {
    const routes: HttpRoute[] = [
      { method: 'GET', path: '/health', handler: async (_req, res) => await this.serveHealth(res) },
    ]
    if (this.config.adminToken !== null) {
      routes.push(...adminRoutes(this.config.adminToken, this.store, this.log, (name) => nameProblem(this.config, name)))
    }
    return routes
  }
}

function listenOn (server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve(server.address() as AddressInfo)
    })
  })
}

/**
 * The request's path as sent: `URL` resolves dot segments (`/ws/x/../cafe`, `%2e%2e` too), which
 * would make one y-websocket name mean another document; the name rule refuses them instead
 * (documents/names.ts). An absolute-form target falls back to the parsed path.
 */
function rawPath (target: string, url: URL): string {
  if (!target.startsWith('/')) return url.pathname
  const end = target.search(/[?#]/)
  return end === -1 ? target : target.slice(0, end)
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
function rejectUpgrade (socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`
  socket.on('error', () => {})
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

/** Resolves true if `promise` settles before `deadline` (ms since epoch), false otherwise. */
async function beforeDeadline (promise: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())) })
  try {
    return await Promise.race([promise.then(() => true, () => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}
