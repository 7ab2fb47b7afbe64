/**
 * collabd as a library: `createServer()` gives the same server `collabd start` runs, to listen
 * on its own port or to attach to an application's HTTP server.
 *
 *   import { createServer } from 'collabd'
 *   const collab = createServer({ config: { port: 3001 } })
 *   await collab.listen()
 */
import { anonymousAuthenticator } from './auth/anonymous.js'
import { createAuthenticator, createAuthorizer } from './auth/index.js'
import type { Authenticator, Authorizer } from './auth/types.js'
import { isProduction, loadConfig, type Config } from './config.js'
import { ConfigError } from './errors.js'
import { createLogger, type Logger } from './log.js'
import { Durability } from './documents/durability.js'
import { Registry } from './documents/registry.js'
import { RedisCluster } from './scaling/redis-cluster.js'
import { createStore } from './storage/index.js'
import type { DocumentStore } from './storage/types.js'
import { CollabServer } from './server/server.js'

export interface CollabdOptions {
  /** Settings that win over the environment. */
  readonly config?: Partial<Config>
  /** Environment to read settings from; default process.env. */
  readonly env?: NodeJS.ProcessEnv
  /** Default: a pino logger configured by LOG_LEVEL/LOG_FORMAT. */
  readonly logger?: Logger
  /** Default: the store DATABASE_URL names. */
  readonly store?: DocumentStore
  /** Default: anonymous (refused with NODE_ENV=production unless ALLOW_ANONYMOUS=true). */
  readonly authenticator?: Authenticator
  readonly authorizer?: Authorizer
}

/**
 * Creates a server: the composition root. It builds every part from the configuration (the
 * store, the durability queue, the cluster when REDIS_URL is set, the registry of documents,
 * authentication) and hands them to CollabServer, which builds none of them itself. Nothing is
 * opened until `listen()`, `attach()` or `start()`.
 * @throws {ConfigError} on invalid settings, or anonymous access in production without ALLOW_ANONYMOUS.
 */
export function createServer (options: CollabdOptions = {}): CollabServer {
  const config = loadConfig(options.env ?? process.env, options.config, { storeGiven: options.store !== undefined })
  const log = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat })
  const authenticator = options.authenticator ?? createAuthenticator(config)
  if (authenticator === anonymousAuthenticator) {
    if (isProduction(config) && !config.allowAnonymous) {
      throw new ConfigError(['NODE_ENV=production but no authentication is configured, so anyone could read and write every document: set JWT_SECRET (or JWT_PUBLIC_KEY, JWT_JWKS_URL) or BETTER_AUTH_SECRET, or ALLOW_ANONYMOUS=true to run without authentication on purpose'])
    }
    log.warn('AUTHENTICATION IS OFF: anyone who can reach this server can read and write every document')
  }
  const store = options.store ?? createStore(config.storage)
  const durability = new Durability(store, log, { maxPendingBytes: config.maxPendingWriteBytes, commitIntervalMs: config.commitIntervalMs })
  const cluster = config.redis === null ? null : new RedisCluster(config.redis, log)
  const registry = new Registry({ store, durability, cluster, log }, {
    unloadDelayMs: config.documentUnloadDelayMs,
    compactAfterUpdates: config.compactAfterUpdates,
    compactAfterBytes: config.compactAfterBytes,
    maxAwarenessClientsPerMember: config.maxAwarenessClientsPerConnection,
    broadcastWindowMs: config.broadcastWindowMs,
  })
  return new CollabServer({
    config,
    log,
    store,
    durability,
    registry,
    cluster,
    authenticator,
    authorizer: options.authorizer ?? createAuthorizer(config, store, log),
  })
}

export { CollabServer, type ShutdownResult } from './server/server.js'
export type { ServerEvents, StatelessEvent, ConnectEvent, DisconnectEvent, DeniedEvent, Protocol } from './server/context.js'
export { loadConfig, ENVIRONMENT, type Config, type StorageConfig } from './config.js'
export { createLogger, type Logger } from './log.js'
export { MemoryStore, SqliteStore, PostgresStore, createStore, migratePostgres } from './storage/index.js'
export type { DocumentStore, StoredDocument, AppendEntry, CompactionResult, DocumentSummary, ListOptions, StoreHealth, Grant, GrantRole } from './storage/types.js'
export type { Authenticator, Authorizer, Credentials, Principal, AuthResult, Access } from './auth/types.js'
export { CollabdError, ProtocolError, InvalidUpdateError, CorruptDocumentError, StoreUnavailableError, StoreRefusedError, ConfigError, CloseCode } from './errors.js'
export type { HealthReport } from './http/health.js'
