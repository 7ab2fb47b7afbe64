/**
 * Configuration: one validated, frozen object built at startup from the environment (and,
 * for library users, from explicit overrides, which go through the same rules: see
 * config-overrides.ts). Defaults live here only. Every setting has a default, a unit in its
 * name, and an entry in `ENVIRONMENT` below, which is also the source of the table in
 * docs/configuration.md, `.env.example` and `collabd --help` (a test keeps them in step). Each
 * variable's rule is in config-rules.ts, the shape of Config in config-types.ts.
 *
 * Nothing here reads `process.env` at import time.
 */
import { overridesAsEnvironment } from './config-overrides.js'
import { betterAuthConfig, jwtConfig, parseStorageUrl, schema, sharedStoreProblem } from './config-rules.js'
import type { BetterAuthConfig, Config, JwtConfig, StorageConfig } from './config-types.js'
import { ConfigError } from './errors.js'

export * from './config-types.js'
export { DEFAULT_SQLITE_PATH, parseStorageUrl } from './config-rules.js'

interface Setting {
  readonly name: string
  readonly default: string
  readonly doc: string
}

/**
 * Every environment variable collabd reads, in the order docs/configuration.md lists them.
 * `default` is the value used when the variable is unset ('' means "unset").
 */
export const ENVIRONMENT: readonly Setting[] = [
  { name: 'PORT', default: '3001', doc: 'Port for WebSocket and HTTP.' },
  { name: 'HOST', default: '0.0.0.0', doc: 'Interface to listen on. Use 127.0.0.1 behind a local reverse proxy.' },
  { name: 'HEALTH_PORT', default: '', doc: 'Optional second port serving only GET /health (for load balancers and firewalls).' },
  { name: 'WS_PATH', default: '/ws', doc: 'WebSocket base path: Hocuspocus connects to it, y-websocket to <WS_PATH>/<document>.' },
  { name: 'DATABASE_URL', default: '', doc: 'Storage. Unset: SQLite at ./data/collabd.sqlite (relative to the working directory; `collabd start` creates it). `sqlite:<path>`: SQLite elsewhere (`collabd start` creates the file, not its folder). One SQLite file serves one process. `postgres://user:pass@host:5432/db` (or `postgresql://`): PostgreSQL. `memory:`: nothing is persisted.' },
  { name: 'SQLITE_SYNCHRONOUS', default: 'full', doc: '`full` survives a killed process and a power loss. `normal` is faster but a power loss (not a crash) may lose the last acknowledged edits.' },
  { name: 'PG_POOL_SIZE', default: '10', doc: 'PostgreSQL connections in the pool.' },
  { name: 'MIGRATE_ON_START', default: 'true', doc: 'Run pending PostgreSQL migrations at start (safe with several instances starting at once). With `false`, run `collabd migrate` yourself; collabd refuses to start on an old schema.' },
  { name: 'REDIS_URL', default: '', doc: 'Run several instances: `redis://[:password@]host:6379[/db]` (or `rediss://` for TLS). Every instance can then serve every document; updates and presence cross instances through Redis pub/sub. Needs a store all instances share: collabd refuses to start with REDIS_URL and a SQLite or memory store.' },
  { name: 'REDIS_PREFIX', default: 'collabd:', doc: 'Prefix of collabd\'s Redis channel names, so several deployments can share one Redis.' },
  { name: 'REDIS_PEER_TIMEOUT_MS', default: '5000', doc: 'An instance not heard from for this long is taken as gone: the others write its unconfirmed updates and remove its clients\' presence.' },
  { name: 'DOCUMENT_UNLOAD_DELAY_MS', default: '30000', doc: 'How long a document stays in memory after its last client left; it is compacted when unloaded.' },
  { name: 'COMPACT_AFTER_UPDATES', default: '1000', doc: 'Merge the update log into a snapshot once a document has this many logged updates.' },
  { name: 'COMPACT_AFTER_BYTES', default: '4194304', doc: '... or once its logged updates add up to this many bytes.' },
  { name: 'BROADCAST_WINDOW_MS', default: '0', doc: 'Least time between two relays of one document\'s updates. 0 relays everything that arrived in one event-loop turn at the end of that turn; a few ms make a busy document send fewer, larger messages (less CPU) at up to that much added latency.' },
  { name: 'COMMIT_INTERVAL_MS', default: '5', doc: 'Least time between the starts of two store commits. A few ms let one fsync cover more updates under load (less CPU) and delay acknowledgements, never relaying, by at most that much; 0 commits as soon as the previous commit is done.' },
  { name: 'HEARTBEAT_INTERVAL_MS', default: '30000', doc: 'Ping interval. A connection that has not answered the previous ping is terminated.' },
  { name: 'SHUTDOWN_TIMEOUT_MS', default: '10000', doc: 'On SIGTERM/SIGINT: time allowed to write pending updates, compact and close before exiting.' },
  { name: 'MAX_MESSAGE_BYTES', default: '4194304', doc: 'Largest message a client may send; a larger one closes its connection with 1009.' },
  { name: 'MAX_BUFFERED_BYTES', default: '33554432', doc: 'Bytes waiting to be sent to one client. A client still above this after one heartbeat interval, or above four times this at once, is disconnected (it stopped reading).' },
  { name: 'MAX_PENDING_WRITE_BYTES', default: '67108864', doc: 'Accepted updates not yet written to the store, in bytes; past this (a long store outage) new updates are refused with 1013 until it catches up.' },
  { name: 'MAX_AWARENESS_CLIENTS_PER_CONNECTION', default: '16', doc: 'Awareness (presence) client ids one connection may announce per document.' },
  { name: 'MAX_CONNECTIONS', default: '20000', doc: 'WebSocket connections accepted at once; more are refused with HTTP 503.' },
  { name: 'MAX_DOCUMENTS_PER_CONNECTION', default: '100', doc: 'Documents one multiplexed Hocuspocus socket may open.' },
  { name: 'MAX_QUEUED_MESSAGES_BEFORE_AUTH', default: '1000', doc: 'Messages a socket may send before its document is authorized; more close it.' },
  { name: 'MAX_QUEUED_BYTES_BEFORE_AUTH', default: '4194304', doc: 'Bytes a socket may send before its document is authorized; more close it.' },
  { name: 'MAX_TOKEN_BYTES', default: '16384', doc: 'Longest credential accepted (Hocuspocus token, Bearer, `?token=`, cookie), in bytes; a longer one is refused without being verified or remembered. Real JWTs and session tokens are well under 4 KiB.' },
  { name: 'MAX_AUTH_FAILURES_PER_CONNECTION', default: '5', doc: 'Documents a Hocuspocus socket may be refused (PermissionDenied) before the socket itself is closed with 4401.' },
  { name: 'AUTH_TIMEOUT_MS', default: '10000', doc: 'A Hocuspocus socket that has no authorized document this long after it opened is closed with 4408. (A y-websocket connection is authenticated as it opens and has no such timer.)' },
  { name: 'WARM_UP', default: 'true', doc: 'Spend about half a second of CPU at start loading a throwaway document, so the first real loads after a restart run optimized code (a 20,000-edit document: ~30 ms instead of ~75 ms).' },
  { name: 'JWT_SECRET', default: '', doc: 'Shared secret (at least 32 characters) for HS256/HS384/HS512 tokens. Setting any JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL turns JWT authentication on.' },
  { name: 'JWT_PUBLIC_KEY', default: '', doc: 'PEM public key (SPKI) for RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA tokens; `\\n` in the value stands for a newline.' },
  { name: 'JWT_JWKS_URL', default: '', doc: 'JWKS endpoint, for the same algorithms as JWT_PUBLIC_KEY. Fetched when the first token needs it, then kept for 10 minutes; a token naming an unknown `kid` fetches it again, at most once every 2 s.' },
  { name: 'JWT_ALGORITHMS', default: '', doc: 'Comma-separated algorithms to accept. Unset: HS256,HS384,HS512 with a secret; RS256,RS384,RS512,PS256,ES256,ES384,EdDSA with a key or JWKS.' },
  { name: 'JWT_ISSUER', default: '', doc: 'Required `iss`, if set.' },
  { name: 'JWT_AUDIENCE', default: '', doc: 'Required `aud`, if set.' },
  { name: 'JWT_CLOCK_TOLERANCE_SEC', default: '30', doc: 'Clock skew allowed when checking `exp` and `nbf`.' },
  { name: 'JWT_REQUIRE_EXP', default: 'true', doc: 'Refuse tokens without an `exp` claim: a leaked token without one is valid forever.' },
  { name: 'JWT_USER_CLAIM', default: 'sub,userId', doc: 'Claims that hold the user id, comma-separated; the first present wins. A token without one is refused.' },
  { name: 'JWT_ROLE_CLAIM', default: 'role', doc: 'Claim that holds the role (owner, admin, editor, viewer).' },
  { name: 'JWT_NAME_CLAIM', default: 'name,email', doc: 'Claims that hold a display name, comma-separated; the first present wins.' },
  { name: 'JWT_DOCUMENTS_CLAIM', default: 'documents', doc: 'Claim with a list of document names: when present, the token opens only those.' },
  { name: 'JWT_DOCUMENT_PREFIX_CLAIM', default: 'documentPrefix', doc: 'Claim with a name prefix: when present, the token opens only documents whose names start with it.' },
  { name: 'JWT_COOKIE', default: '', doc: 'Name of a cookie that may carry the token (after the Hocuspocus token, `Authorization: Bearer` and `?token=`).' },
  { name: 'BETTER_AUTH_SECRET', default: '', doc: 'The app\'s Better Auth secret. Turns Better Auth session authentication on (with BETTER_AUTH_DATABASE_URL or BETTER_AUTH_URL); signatures are checked before any lookup.' },
  { name: 'BETTER_AUTH_DATABASE_URL', default: '', doc: 'The app\'s Better Auth database, read only: `postgres://...` or `sqlite:<path>`. Unset with PostgreSQL storage and no BETTER_AUTH_URL: DATABASE_URL\'s database.' },
  { name: 'BETTER_AUTH_URL', default: '', doc: 'Instead of reading the database, ask the app: `<url>/api/auth/get-session` (slower, one request per check, and subject to the app\'s rate limit).' },
  { name: 'BETTER_AUTH_ALLOW_UNSIGNED', default: 'false', doc: 'Accept raw session tokens without the signature (only if clients cannot send the signed form).' },
  { name: 'SESSION_RECHECK_MS', default: '30000', doc: 'How often the sessions of open connections are checked again in one batched query. When a session ended (signed out, expired, banned), a y-websocket connection is closed with 4401, and a Hocuspocus document gets PermissionDenied "session ended" (its socket closes with 4401 once no document is left open). 0 turns it off.' },
  { name: 'DOCUMENT_NAME_PATTERN', default: '', doc: 'A regular expression (Unicode) every document name must match, checked before any lookup, e.g. `^[a-z0-9-]+(/[a-z0-9-]+)*$`. Names are always 1-512 characters of well-formed Unicode without control characters, U+FEFF or dot segments (docs/configuration.md, Document names).' },
  { name: 'AUTHORIZE_URL', default: '', doc: 'Let the app decide access: collabd POSTs `{"user": {"id", "role", "name"}, "document"}` and expects `{"access": "none" | "read" | "write"}`. Any error, timeout or other answer denies.' },
  { name: 'AUTHORIZE_TOKEN', default: '', doc: 'Sent to AUTHORIZE_URL as `Authorization: Bearer <token>`, so the app can tell the call is collabd\'s.' },
  { name: 'AUTHORIZE_TIMEOUT_MS', default: '2000', doc: 'How long AUTHORIZE_URL may take before the connection is denied.' },
  { name: 'AUTHORIZE_CACHE_MS', default: '5000', doc: 'How long an AUTHORIZE_URL answer is reused for the same user and document.' },
  { name: 'ADMIN_TOKEN', default: '', doc: 'Turns on the admin API for grants (`/admin/access`), which then requires `Authorization: Bearer <ADMIN_TOKEN>`. At least 32 characters.' },
  { name: 'ACCESS_POLICY', default: 'role-plus-grants', doc: 'How per-document grants combine with roles. `role-plus-grants`: roles decide; a grant adds rights on its document (a viewer granted `editor` writes there) and never takes any away. `grants`: private documents, open only to their grantees with the granted role: with OWNER_ON_CREATE a new document is its creator\'s alone until others are granted access, and a document without grants is open to nobody. `role`: roles only, grants ignored. Users whose own role is owner or admin write everywhere.' },
  { name: 'OWNER_ON_CREATE', default: 'true', doc: 'The first user who opens a document that does not exist yet and may write to it by role (editor; owners and admins are not recorded) becomes its owner, a grant. It never takes rights away: under `role-plus-grants` it records the creator (and keeps them writing if their role changes); under `grants` it is what opens the new document to its creator. Ignored under `role`.' },
  { name: 'DEFAULT_ROLE', default: 'viewer', doc: 'Role of an authenticated user whose credential names no role or an unknown one. Better Auth\'s default role `user` is such a role: set `editor` if every signed-in user should write.' },
  { name: 'AUTH_CACHE_MS', default: '5000', doc: 'How long a verified credential is trusted before it is checked again (an expiring token never past its `exp`); refusals are remembered for a second.' },
  { name: 'ALLOW_ANONYMOUS', default: 'false', doc: 'With NODE_ENV=production, collabd refuses to start without authentication unless this is `true`.' },
  { name: 'LOG_LEVEL', default: 'info', doc: 'fatal, error, warn, info, debug, trace or silent.' },
  { name: 'LOG_FORMAT', default: 'auto', doc: '`json` (JSON lines), `pretty` (human-readable), or `auto`: pretty when stdout is a terminal.' },
  { name: 'NODE_ENV', default: 'development', doc: '`production` turns on the production safety checks.' },
]

/** Settings whose values must never appear in an error message or a log. */
const SECRET_SETTINGS: ReadonlySet<string> = new Set(['JWT_SECRET', 'BETTER_AUTH_SECRET', 'ADMIN_TOKEN', 'AUTHORIZE_TOKEN'])

const DEFAULTS = Object.fromEntries(ENVIRONMENT.map((s) => [s.name, s.default])) as Record<string, string>
/** What loadConfig is told about the parts a library user passes ready-made. */
export interface LoadConfigOptions {
  /**
   * A DocumentStore object is passed (createServer's `store`): the storage settings are not
   * used, so whether several instances share it is the caller's business.
   */
  readonly storeGiven?: boolean
}

/**
 * Builds the configuration from environment variables plus explicit overrides (which win).
 * Overrides go through the same rules as the environment (see config-overrides.ts). Collects
 * every problem before failing, so a user fixes them all in one go.
 * @throws {ConfigError} whose problems are each one sentence naming the setting.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}, options: LoadConfigOptions = {}): Config {
  const given = overridesAsEnvironment(overrides)
  const raw: Record<string, string> = {}
  for (const setting of ENVIRONMENT) {
    const value = given.values[setting.name] ?? env[setting.name]
    raw[setting.name] = value === undefined || value.trim() === '' ? DEFAULTS[setting.name]! : value
  }
  const label = (name: string): string => given.labels[name] ?? name
  const parsed = schema.safeParse(raw)
  if (!parsed.success || given.problems.length > 0) {
    throw new ConfigError([...given.problems, ...(parsed.error?.issues ?? []).map((issue) => {
      const name = String(issue.path[0])
      // Never echo a secret, nor a URL that may carry credentials.
      const shown = SECRET_SETTINGS.has(name) || name.endsWith('_URL') ? '' : ` (got "${raw[name]}")`
      return `${label(name)} ${issue.message}${shown}`
    })])
  }
  const e = parsed.data
  let storage: StorageConfig
  try {
    storage = parseStorageUrl(e.DATABASE_URL, e.SQLITE_SYNCHRONOUS, { poolSize: e.PG_POOL_SIZE, migrate: e.MIGRATE_ON_START })
  } catch (err) {
    throw new ConfigError([`${label('DATABASE_URL')} ${(err as Error).message}`])
  }
  const shared = sharedStoreProblem({ redis: e.REDIS_URL !== '', storage, databaseUrlUnset: e.DATABASE_URL === '' })
  if (shared !== null && options.storeGiven !== true) throw new ConfigError([shared])
  if (e.HEALTH_PORT !== '' && e.HEALTH_PORT === e.PORT && e.PORT !== 0) throw new ConfigError([`HEALTH_PORT must differ from PORT (both are ${e.PORT})`])
  let jwt: JwtConfig | null
  let betterAuth: BetterAuthConfig | null
  try {
    jwt = jwtConfig(e)
    betterAuth = betterAuthConfig(e, storage)
  } catch (err) {
    throw new ConfigError([(err as Error).message])
  }
  let documentNamePattern: RegExp | null = given.documentNamePattern ?? null
  try {
    if (given.documentNamePattern === undefined && e.DOCUMENT_NAME_PATTERN.trim() !== '') documentNamePattern = new RegExp(e.DOCUMENT_NAME_PATTERN.trim(), 'u')
  } catch (err) {
    throw new ConfigError([`DOCUMENT_NAME_PATTERN must be a regular expression: ${(err as Error).message}`])
  }
  const config: Config = {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    healthPort: e.HEALTH_PORT === '' ? null : e.HEALTH_PORT,
    wsPath: e.WS_PATH.length > 1 ? e.WS_PATH.replace(/\/+$/, '') : e.WS_PATH,
    storage,
    redis: e.REDIS_URL === '' ? null : { url: e.REDIS_URL, prefix: e.REDIS_PREFIX, peerTimeoutMs: e.REDIS_PEER_TIMEOUT_MS },
    documentUnloadDelayMs: e.DOCUMENT_UNLOAD_DELAY_MS,
    compactAfterUpdates: e.COMPACT_AFTER_UPDATES,
    compactAfterBytes: e.COMPACT_AFTER_BYTES,
    broadcastWindowMs: e.BROADCAST_WINDOW_MS,
    commitIntervalMs: e.COMMIT_INTERVAL_MS,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    maxBufferedBytes: e.MAX_BUFFERED_BYTES,
    maxPendingWriteBytes: e.MAX_PENDING_WRITE_BYTES,
    maxAwarenessClientsPerConnection: e.MAX_AWARENESS_CLIENTS_PER_CONNECTION,
    maxConnections: e.MAX_CONNECTIONS,
    maxDocumentsPerConnection: e.MAX_DOCUMENTS_PER_CONNECTION,
    maxQueuedMessagesBeforeAuth: e.MAX_QUEUED_MESSAGES_BEFORE_AUTH,
    maxQueuedBytesBeforeAuth: e.MAX_QUEUED_BYTES_BEFORE_AUTH,
    maxTokenBytes: e.MAX_TOKEN_BYTES,
    maxAuthFailuresPerConnection: e.MAX_AUTH_FAILURES_PER_CONNECTION,
    authTimeoutMs: e.AUTH_TIMEOUT_MS,
    allowAnonymous: e.ALLOW_ANONYMOUS,
    warmUp: e.WARM_UP,
    documentNamePattern,
    adminToken: e.ADMIN_TOKEN === '' ? null : e.ADMIN_TOKEN,
    auth: {
      authorizeWebhook: e.AUTHORIZE_URL === '' ? null : { url: e.AUTHORIZE_URL, token: e.AUTHORIZE_TOKEN === '' ? null : e.AUTHORIZE_TOKEN, timeoutMs: e.AUTHORIZE_TIMEOUT_MS, cacheMs: e.AUTHORIZE_CACHE_MS },
      jwt,
      betterAuth, sessionRecheckMs: e.SESSION_RECHECK_MS, defaultRole: e.DEFAULT_ROLE, accessPolicy: e.ACCESS_POLICY, ownerOnCreate: e.OWNER_ON_CREATE, cacheMs: e.AUTH_CACHE_MS },
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
  }
  return Object.freeze(config)
}

export const isProduction = (config: Config): boolean => config.nodeEnv === 'production'
