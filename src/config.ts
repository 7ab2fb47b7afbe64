/**
 * Configuration: one validated, frozen object built at startup from the environment (and,
 * for library users, from explicit overrides, which go through the same rules: see
 * config-overrides.ts). Defaults live here only. Every setting has a default, a unit in its
 * name, and an entry in `ENVIRONMENT` below, which is also the source of the table in
 * docs/configuration.md, `.env.example` and `collabd --help` (a test keeps them in step).
 *
 * Nothing here reads `process.env` at import time.
 */
import * as path from 'node:path'
import { z } from 'zod'
import { overridesAsEnvironment } from './config-overrides.js'
import { ConfigError } from './errors.js'
import { ROLES, type Role } from './roles.js'

export type StorageConfig =
  | { readonly kind: 'memory' }
  | { readonly kind: 'sqlite', readonly path: string, readonly synchronous: 'full' | 'normal' }
  | { readonly kind: 'postgres', readonly url: string, readonly poolSize: number, readonly migrate: boolean }

export type LogFormat = 'json' | 'pretty' | 'auto'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface RedisConfig {
  readonly url: string
  /** Prefix of every channel name. */
  readonly prefix: string
  /** An instance not heard from for this long is taken as gone. */
  readonly peerTimeoutMs: number
}

export interface Config {
  readonly nodeEnv: string
  readonly host: string
  readonly port: number
  /** A second port that serves only `/health`; null when unset. */
  readonly healthPort: number | null
  /** Base path of the WebSocket endpoint: `/ws` for Hocuspocus, `/ws/<document>` for y-websocket. */
  readonly wsPath: string
  readonly storage: StorageConfig
  /** Other instances over Redis (REDIS_URL); null when this instance is alone. */
  readonly redis: RedisConfig | null
  /** How long a document stays in memory after its last client left. */
  readonly documentUnloadDelayMs: number
  /** Compact a document once this many updates were appended since its last snapshot. */
  readonly compactAfterUpdates: number
  /** ... or once the appended updates add up to this many bytes. */
  readonly compactAfterBytes: number
  /** Least time between two relays of one document's updates (0: once per event-loop turn). */
  readonly broadcastWindowMs: number
  /** Least time between the starts of two store commits (0: as soon as the last one is done). */
  readonly commitIntervalMs: number
  readonly heartbeatIntervalMs: number
  readonly shutdownTimeoutMs: number
  /** Largest WebSocket message accepted from a client; larger ones close the connection with 1009. */
  readonly maxMessageBytes: number
  /** Bytes a connection may have waiting to be sent; a client that does not read is dropped past it. */
  readonly maxBufferedBytes: number
  /** Bytes of accepted updates not yet written to the store; past it, new updates are refused (1013). */
  readonly maxPendingWriteBytes: number
  /** Awareness client ids one connection may announce (normally one per document). */
  readonly maxAwarenessClientsPerConnection: number
  readonly maxConnections: number
  /** Documents one Hocuspocus socket may have open (or pending) at once. */
  readonly maxDocumentsPerConnection: number
  /** Messages a connection may send before its document is authorized, per socket. */
  readonly maxQueuedMessagesBeforeAuth: number
  readonly maxQueuedBytesBeforeAuth: number
  /** A Hocuspocus socket with no authorized document this long after it opened is closed (4408). */
  readonly authTimeoutMs: number
  /** Accept unauthenticated read-write connections even with NODE_ENV=production. */
  readonly allowAnonymous: boolean
  /** Exercise the Yjs load path at start so the first loads after a restart run optimized code. */
  readonly warmUp: boolean
  readonly auth: AuthConfig
  /** Bearer token of the admin API (/admin/access); null: the admin API is off. */
  readonly adminToken: string | null
  /** Extra rule for document names (DOCUMENT_NAME_PATTERN), on top of the built-in one; null: none. */
  readonly documentNamePattern: RegExp | null
  readonly logLevel: LogLevel
  readonly logFormat: LogFormat
}

/** How grants combine with roles (auth/access-policy.ts); the first is the default. */
export const ACCESS_POLICIES = ['role-plus-grants', 'grants', 'role'] as const
export type AccessPolicy = typeof ACCESS_POLICIES[number]

/**
 * A former default, refused by name rather than read with another meaning: it made every
 * document private to its creator, and a deployment that chose it should choose again.
 */
const REMOVED_ACCESS_POLICY = 'grants-or-role'

export interface JwtConfig {
  /** HS256/384/512 shared secret, or null. */
  readonly secret: string | null
  /** SPKI PEM public key (RS*, PS*, ES*, EdDSA), or null. */
  readonly publicKey: string | null
  /** JWKS endpoint, cached and refetched when a token names an unknown `kid`; or null. */
  readonly jwksUrl: string | null
  readonly algorithms: readonly string[]
  readonly issuer: string | null
  readonly audience: string | null
  readonly clockToleranceSec: number
  /** Refuse tokens without `exp` (they would be valid forever). */
  readonly requireExp: boolean
  /** Claim names, first present wins. */
  readonly userClaims: readonly string[]
  readonly roleClaim: string
  readonly nameClaims: readonly string[]
  /** A claim listing the documents the token may open, and one giving a name prefix. */
  readonly documentsClaim: string
  readonly documentPrefixClaim: string
  /** A cookie that may carry the token, or null. */
  readonly cookie: string | null
}

export interface BetterAuthConfig {
  readonly secret: string
  /** Where the sessions are read: the app's database, or the app itself over HTTP. */
  readonly source: { readonly kind: 'postgres', readonly url: string } | { readonly kind: 'sqlite', readonly path: string } | { readonly kind: 'http', readonly url: string }
  readonly allowUnsigned: boolean
}

export interface AuthorizeWebhookConfig {
  readonly url: string
  /** Sent as `Authorization: Bearer` so the app knows the call is collabd's; null: none. */
  readonly token: string | null
  readonly timeoutMs: number
  readonly cacheMs: number
}

export interface AuthConfig {
  readonly jwt: JwtConfig | null
  /** The app decides access per user and document (AUTHORIZE_URL); null: roles decide. */
  readonly authorizeWebhook: AuthorizeWebhookConfig | null
  readonly betterAuth: BetterAuthConfig | null
  /** How often open connections' sessions are checked again (0: never). */
  readonly sessionRecheckMs: number
  /** Role of a user whose token names none, or one collabd does not know. */
  readonly defaultRole: Role
  /** How per-document grants combine with roles (auth/access-policy.ts). */
  readonly accessPolicy: AccessPolicy
  /** The first writer of a new document is recorded as its owner (a grant). */
  readonly ownerOnCreate: boolean
  /** How long a verified credential is trusted without checking again. */
  readonly cacheMs: number
}

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
  { name: 'SESSION_RECHECK_MS', default: '30000', doc: 'How often the sessions of open connections are checked again in one batched query; a connection whose session ended (signed out, expired, banned) is closed with 4401. 0 turns it off.' },
  { name: 'DOCUMENT_NAME_PATTERN', default: '', doc: 'A regular expression (Unicode) every document name must match, checked before any lookup, e.g. `^[a-z0-9-]+(/[a-z0-9-]+)*$`. Names are always 1-512 characters without control characters.' },
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

/**
 * The rules, each failing with what it wants in words a user reads ("must be a positive whole
 * number"), never a validator's own text.
 */
const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const wanted = max !== Number.MAX_SAFE_INTEGER
    ? `must be a whole number from ${min} to ${max}`
    : min === 0 ? 'must be a whole number (0 or more)' : min === 1 ? 'must be a positive whole number' : `must be a whole number of at least ${min}`
  return z.string().trim().transform((v, ctx) => {
    const n = /^\d+$/.test(v) ? Number(v) : Number.NaN
    if (n >= min && n <= max) return n
    ctx.addIssue({ code: 'custom', message: wanted })
    return z.NEVER
  })
}

const TRUE = new Set(['true', '1', 'yes'])
const FALSE = new Set(['false', '0', 'no'])
const bool = z.string().trim().toLowerCase().transform((v, ctx) => {
  if (TRUE.has(v) || FALSE.has(v)) return TRUE.has(v)
  ctx.addIssue({ code: 'custom', message: 'must be true or false' })
  return z.NEVER
})

const oneOf = <T extends string>(values: readonly T[]) => z.string().trim().toLowerCase().transform((v, ctx) => {
  if ((values as readonly string[]).includes(v)) return v as T
  ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}` })
  return z.NEVER
})

const url = (protocols: readonly string[]) => z.url({
  protocol: new RegExp(`^(${protocols.join('|')})$`),
  error: `must be ${protocols[0]!.startsWith('h') ? 'an' : 'a'} ${protocols.map((p) => `${p}://`).join(' or ')} URL`,
})

/** '' (unset) or a value `rule` accepts. */
const unsetOr = <T>(rule: z.ZodType<T, string>) => z.string().transform((v, ctx): T | '' => {
  if (v.trim() === '') return ''
  const parsed = rule.safeParse(v)
  if (parsed.success) return parsed.data
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message })
  return z.NEVER
})

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const LOG_FORMATS = ['json', 'pretty', 'auto'] as const

const schema = z.object({
  NODE_ENV: z.string().trim().min(1),
  HOST: z.string().trim().min(1, 'must not be empty'),
  PORT: wholeNumber(0, 65535),
  HEALTH_PORT: unsetOr(wholeNumber(0, 65535)),
  WS_PATH: z.string().trim().regex(/^\/[^?#]*$/, 'must start with / and contain no ? or #'),
  DATABASE_URL: z.string().trim(),
  REDIS_URL: unsetOr(url(['redis', 'rediss'])),
  REDIS_PREFIX: z.string(),
  REDIS_PEER_TIMEOUT_MS: wholeNumber(500, 600_000),
  SQLITE_SYNCHRONOUS: oneOf(['full', 'normal']),
  PG_POOL_SIZE: wholeNumber(1, 1000),
  MIGRATE_ON_START: bool,
  DOCUMENT_UNLOAD_DELAY_MS: wholeNumber(0),
  COMPACT_AFTER_UPDATES: wholeNumber(1),
  COMPACT_AFTER_BYTES: wholeNumber(1),
  BROADCAST_WINDOW_MS: wholeNumber(0, 1000),
  COMMIT_INTERVAL_MS: wholeNumber(0, 1000),
  HEARTBEAT_INTERVAL_MS: wholeNumber(100),
  SHUTDOWN_TIMEOUT_MS: wholeNumber(100),
  MAX_MESSAGE_BYTES: wholeNumber(1024),
  MAX_BUFFERED_BYTES: wholeNumber(65536),
  MAX_PENDING_WRITE_BYTES: wholeNumber(65536),
  MAX_AWARENESS_CLIENTS_PER_CONNECTION: wholeNumber(1),
  MAX_CONNECTIONS: wholeNumber(1),
  MAX_DOCUMENTS_PER_CONNECTION: wholeNumber(1),
  MAX_QUEUED_MESSAGES_BEFORE_AUTH: wholeNumber(1),
  MAX_QUEUED_BYTES_BEFORE_AUTH: wholeNumber(1024),
  AUTH_TIMEOUT_MS: wholeNumber(100),
  JWT_SECRET: z.string(),
  JWT_PUBLIC_KEY: z.string(),
  JWT_JWKS_URL: unsetOr(url(['http', 'https'])),
  JWT_ALGORITHMS: z.string(),
  JWT_ISSUER: z.string().trim(),
  JWT_AUDIENCE: z.string().trim(),
  JWT_CLOCK_TOLERANCE_SEC: wholeNumber(0, 3600),
  JWT_REQUIRE_EXP: bool,
  JWT_USER_CLAIM: z.string(),
  JWT_ROLE_CLAIM: z.string().trim().min(1, 'must name a claim'),
  JWT_NAME_CLAIM: z.string(),
  JWT_DOCUMENTS_CLAIM: z.string().trim().min(1, 'must name a claim'),
  JWT_DOCUMENT_PREFIX_CLAIM: z.string().trim().min(1, 'must name a claim'),
  JWT_COOKIE: z.string().trim(),
  BETTER_AUTH_SECRET: z.string(),
  BETTER_AUTH_DATABASE_URL: z.string().trim(),
  BETTER_AUTH_URL: unsetOr(url(['http', 'https'])),
  BETTER_AUTH_ALLOW_UNSIGNED: bool,
  SESSION_RECHECK_MS: wholeNumber(0),
  DOCUMENT_NAME_PATTERN: z.string(),
  AUTHORIZE_URL: unsetOr(url(['http', 'https'])),
  AUTHORIZE_TOKEN: z.string(),
  AUTHORIZE_TIMEOUT_MS: wholeNumber(1, 60_000),
  AUTHORIZE_CACHE_MS: wholeNumber(0, 3_600_000),
  ADMIN_TOKEN: unsetOr(z.string().min(32, 'must be at least 32 characters')),
  ACCESS_POLICY: z.string().trim().toLowerCase().refine((v) => v !== REMOVED_ACCESS_POLICY, {
    message: 'no longer accepts this value, the former default (it made every new document private to its creator): set role-plus-grants (the default: roles decide, grants add rights) or grants (private documents)',
    abort: true,
  }).pipe(oneOf(ACCESS_POLICIES)),
  OWNER_ON_CREATE: bool,
  DEFAULT_ROLE: oneOf(ROLES),
  AUTH_CACHE_MS: wholeNumber(0, 3_600_000),
  ALLOW_ANONYMOUS: bool,
  WARM_UP: bool,
  LOG_LEVEL: oneOf(LOG_LEVELS),
  LOG_FORMAT: oneOf(LOG_FORMATS),
})

/** The SQLite file used when DATABASE_URL is unset, relative to the working directory. */
export const DEFAULT_SQLITE_PATH = path.join('data', 'collabd.sqlite')

/**
 * Parses DATABASE_URL. Exported for the CLI and tests.
 * @throws {Error} with a message naming the accepted forms.
 */
export function parseStorageUrl (url: string, synchronous: 'full' | 'normal', postgres: { poolSize: number, migrate: boolean }): StorageConfig {
  if (url === '') return { kind: 'sqlite', path: DEFAULT_SQLITE_PATH, synchronous }
  if (url === 'memory:' || url === 'memory://') return { kind: 'memory' }
  if (url.startsWith('sqlite:')) {
    // Accept sqlite:path, sqlite://path and sqlite:///abs/path.
    let file = url.slice('sqlite:'.length)
    if (file.startsWith('//')) file = file.slice(2)
    if (file === '' || file === '/') throw new Error('needs a file path after sqlite:, e.g. sqlite:./data/collabd.sqlite')
    return { kind: 'sqlite', path: file, synchronous }
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url, poolSize: postgres.poolSize, migrate: postgres.migrate }
  throw new Error('must be unset, sqlite:<path>, postgres://... or memory:')
}

/**
 * Instances over Redis relay updates to each other but each writes to its own store: they must
 * all use one store, which only PostgreSQL can be (a SQLite file belongs to one process, memory
 * to none). @returns the problem as one sentence, or null.
 */
function sharedStoreProblem (redis: boolean, storage: StorageConfig, databaseUrlUnset: boolean): string | null {
  if (!redis || storage.kind === 'postgres') return null
  const what = storage.kind === 'memory' ? 'memory:, which no other instance sees' : databaseUrlUnset ? `unset, so each instance would keep its own SQLite file (${DEFAULT_SQLITE_PATH})` : 'a SQLite file, which only one instance may use'
  return `REDIS_URL is set for several instances, but DATABASE_URL is ${what}: set DATABASE_URL to the PostgreSQL database they all share`
}

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
  const shared = sharedStoreProblem(e.REDIS_URL !== '', storage, e.DATABASE_URL === '')
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

const list = (value: string): string[] => value.split(',').map((v) => v.trim()).filter((v) => v !== '')

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512']
const KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']

/** JWT settings, or null when no key is configured. @throws {Error} naming the variable at fault. */
function jwtConfig (e: z.infer<typeof schema>): JwtConfig | null {
  const secret = e.JWT_SECRET === '' ? null : e.JWT_SECRET
  const publicKey = e.JWT_PUBLIC_KEY.trim() === '' ? null : e.JWT_PUBLIC_KEY.replace(/\\n/g, '\n')
  const jwksUrl = e.JWT_JWKS_URL === '' ? null : e.JWT_JWKS_URL
  if (secret === null && publicKey === null && jwksUrl === null) return null
  if ([secret, publicKey, jwksUrl].filter((v) => v !== null).length > 1) {
    throw new Error('JWT_SECRET, JWT_PUBLIC_KEY and JWT_JWKS_URL are alternatives: set only one')
  }
  if (secret !== null && Buffer.byteLength(secret) < 32) throw new Error('JWT_SECRET must be at least 32 characters (a short HMAC secret can be brute-forced)')
  if (publicKey !== null && !publicKey.includes('-----BEGIN PUBLIC KEY-----')) throw new Error('JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----)')
  const allowed = secret !== null ? HMAC_ALGORITHMS : KEY_ALGORITHMS
  const algorithms = e.JWT_ALGORITHMS.trim() === '' ? allowed : list(e.JWT_ALGORITHMS)
  const wrong = algorithms.filter((a) => !allowed.includes(a))
  if (wrong.length > 0) throw new Error(`JWT_ALGORITHMS names ${wrong.join(', ')}, which cannot be used with ${secret !== null ? 'JWT_SECRET' : 'a public key'} (allowed: ${allowed.join(', ')})`)
  const userClaims = list(e.JWT_USER_CLAIM)
  if (userClaims.length === 0) throw new Error('JWT_USER_CLAIM must name at least one claim')
  return {
    secret,
    publicKey,
    jwksUrl,
    algorithms,
    issuer: e.JWT_ISSUER === '' ? null : e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE === '' ? null : e.JWT_AUDIENCE,
    clockToleranceSec: e.JWT_CLOCK_TOLERANCE_SEC,
    requireExp: e.JWT_REQUIRE_EXP,
    userClaims,
    roleClaim: e.JWT_ROLE_CLAIM,
    nameClaims: list(e.JWT_NAME_CLAIM),
    documentsClaim: e.JWT_DOCUMENTS_CLAIM,
    documentPrefixClaim: e.JWT_DOCUMENT_PREFIX_CLAIM,
    cookie: e.JWT_COOKIE === '' ? null : e.JWT_COOKIE,
  }
}

/** Better Auth settings, or null when BETTER_AUTH_SECRET is unset. @throws {Error} naming the variable at fault. */
function betterAuthConfig (e: z.infer<typeof schema>, storage: StorageConfig): BetterAuthConfig | null {
  const url = e.BETTER_AUTH_URL
  if (e.BETTER_AUTH_SECRET === '') {
    if (e.BETTER_AUTH_DATABASE_URL !== '' || url !== '') throw new Error('BETTER_AUTH_SECRET must be set with BETTER_AUTH_DATABASE_URL or BETTER_AUTH_URL')
    return null
  }
  // The seeds' apps keep Better Auth's tables in the same PostgreSQL database as the documents.
  const db = e.BETTER_AUTH_DATABASE_URL !== '' || url !== '' ? e.BETTER_AUTH_DATABASE_URL : storage.kind === 'postgres' ? storage.url : ''
  if (db !== '' && url !== '') throw new Error('BETTER_AUTH_DATABASE_URL and BETTER_AUTH_URL are alternatives: set only one')
  if (db === '' && url === '') throw new Error('BETTER_AUTH_SECRET needs BETTER_AUTH_DATABASE_URL or BETTER_AUTH_URL to find the sessions (or PostgreSQL storage, whose database is then used)')
  let source: BetterAuthConfig['source']
  if (url !== '') source = { kind: 'http', url }
  else if (/^postgres(ql)?:\/\//.test(db)) source = { kind: 'postgres', url: db }
  else if (db.startsWith('sqlite:')) source = { kind: 'sqlite', path: db.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') }
  else throw new Error('BETTER_AUTH_DATABASE_URL must be postgres://... or sqlite:<path>')
  return { secret: e.BETTER_AUTH_SECRET, source, allowUnsigned: e.BETTER_AUTH_ALLOW_UNSIGNED }
}

export const isProduction = (config: Config): boolean => config.nodeEnv === 'production'
