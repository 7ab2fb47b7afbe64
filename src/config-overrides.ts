/**
 * Library overrides (`createServer({ config })`) as environment values: every overridden
 * setting is written back as the variable (or variables) it stands for, so loadConfig validates
 * and derives it by exactly the same rules as the environment, and one error names it.
 *
 * Flat settings map to one variable each (`port` -> PORT). The nested ones (`storage`, `redis`,
 * `auth`) map to their whole group of variables (`storage` -> DATABASE_URL, SQLITE_SYNCHRONOUS,
 * PG_POOL_SIZE, MIGRATE_ON_START): an override replaces the group, and variables of the group
 * the object does not use take their defaults, never the environment's values. As in the
 * environment, an empty string means "the default". A key that is not a setting, or a value of
 * the wrong type, is a problem too; nothing is ignored silently.
 *
 * This module knows the shape of Config only at run time (config.ts imports it, so it cannot
 * import config.ts); test/unit/config.test.ts feeds every field of a full Config back through
 * it, so a field added to Config without a line here fails that test.
 */

/** How a flat override is written as its variable. */
type Kind = 'integer' | 'integer-or-null' | 'boolean' | 'string' | 'string-or-null'

const FLAT: Readonly<Record<string, readonly [variable: string, kind: Kind]>> = {
  nodeEnv: ['NODE_ENV', 'string'],
  host: ['HOST', 'string'],
  port: ['PORT', 'integer'],
  healthPort: ['HEALTH_PORT', 'integer-or-null'],
  wsPath: ['WS_PATH', 'string'],
  documentUnloadDelayMs: ['DOCUMENT_UNLOAD_DELAY_MS', 'integer'],
  compactAfterUpdates: ['COMPACT_AFTER_UPDATES', 'integer'],
  compactAfterBytes: ['COMPACT_AFTER_BYTES', 'integer'],
  broadcastWindowMs: ['BROADCAST_WINDOW_MS', 'integer'],
  commitIntervalMs: ['COMMIT_INTERVAL_MS', 'integer'],
  heartbeatIntervalMs: ['HEARTBEAT_INTERVAL_MS', 'integer'],
  shutdownTimeoutMs: ['SHUTDOWN_TIMEOUT_MS', 'integer'],
  maxMessageBytes: ['MAX_MESSAGE_BYTES', 'integer'],
  maxBufferedBytes: ['MAX_BUFFERED_BYTES', 'integer'],
  maxPendingWriteBytes: ['MAX_PENDING_WRITE_BYTES', 'integer'],
  maxAwarenessClientsPerConnection: ['MAX_AWARENESS_CLIENTS_PER_CONNECTION', 'integer'],
  maxConnections: ['MAX_CONNECTIONS', 'integer'],
  maxDocumentsPerConnection: ['MAX_DOCUMENTS_PER_CONNECTION', 'integer'],
  maxQueuedMessagesBeforeAuth: ['MAX_QUEUED_MESSAGES_BEFORE_AUTH', 'integer'],
  maxQueuedBytesBeforeAuth: ['MAX_QUEUED_BYTES_BEFORE_AUTH', 'integer'],
  maxTokenBytes: ['MAX_TOKEN_BYTES', 'integer'],
  maxAuthFailuresPerConnection: ['MAX_AUTH_FAILURES_PER_CONNECTION', 'integer'],
  authTimeoutMs: ['AUTH_TIMEOUT_MS', 'integer'],
  allowAnonymous: ['ALLOW_ANONYMOUS', 'boolean'],
  warmUp: ['WARM_UP', 'boolean'],
  adminToken: ['ADMIN_TOKEN', 'string-or-null'],
  logLevel: ['LOG_LEVEL', 'string'],
  logFormat: ['LOG_FORMAT', 'string'],
}

/** The variables each nested override replaces as a group. */
const GROUPS: Readonly<Record<string, readonly string[]>> = {
  storage: ['DATABASE_URL', 'SQLITE_SYNCHRONOUS', 'PG_POOL_SIZE', 'MIGRATE_ON_START'],
  redis: ['REDIS_URL', 'REDIS_PREFIX', 'REDIS_PEER_TIMEOUT_MS'],
  auth: [
    'JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL', 'JWT_ALGORITHMS', 'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_CLOCK_TOLERANCE_SEC',
    'JWT_REQUIRE_EXP', 'JWT_USER_CLAIM', 'JWT_ROLE_CLAIM', 'JWT_NAME_CLAIM', 'JWT_DOCUMENTS_CLAIM', 'JWT_DOCUMENT_PREFIX_CLAIM',
    'JWT_COOKIE', 'BETTER_AUTH_SECRET', 'BETTER_AUTH_DATABASE_URL', 'BETTER_AUTH_URL', 'BETTER_AUTH_ALLOW_UNSIGNED',
    'SESSION_RECHECK_MS', 'AUTHORIZE_URL', 'AUTHORIZE_TOKEN', 'AUTHORIZE_TIMEOUT_MS', 'AUTHORIZE_CACHE_MS', 'ACCESS_POLICY',
    'OWNER_ON_CREATE', 'DEFAULT_ROLE', 'AUTH_CACHE_MS',
  ],
}

export interface OverridesAsEnvironment {
  /** Variable -> value, for the variables the overrides replace ('' means "use the default"). */
  readonly values: Readonly<Record<string, string>>
  /** Variable -> how an error about it names the override, e.g. `port` or `storage (PG_POOL_SIZE)`. */
  readonly labels: Readonly<Record<string, string>>
  /** A DOCUMENT_NAME_PATTERN override given as a RegExp, used as it is (its own flags kept). */
  readonly documentNamePattern: RegExp | null | undefined
  /** Overrides that are not settings, or not of the setting's type. */
  readonly problems: readonly string[]
}

/** Writes library overrides as the environment values they stand for. */
export function overridesAsEnvironment (overrides: Readonly<Record<string, unknown>>): OverridesAsEnvironment {
  const values: Record<string, string> = {}
  const labels: Record<string, string> = {}
  const problems: string[] = []
  let documentNamePattern: RegExp | null | undefined
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue
    const flat = FLAT[key]
    if (flat !== undefined) {
      const [variable, kind] = flat
      const written = writeFlat(value, kind)
      if (written === null) problems.push(`${key} must be ${KIND_WANTED[kind]} (got ${shown(value)})`)
      else {
        values[variable] = written
        labels[variable] = key
      }
      continue
    }
    if (key === 'documentNamePattern') {
      if (value === null || value instanceof RegExp) documentNamePattern = value
      else problems.push(`documentNamePattern must be a RegExp or null (got ${shown(value)})`)
      continue
    }
    const group = GROUPS[key]
    if (group === undefined) {
      problems.push(`${key} is not a collabd setting`)
      continue
    }
    const written: Record<string, string> = {}
    const problem = key === 'storage' ? writeStorage(value, written) : key === 'redis' ? writeRedis(value, written) : writeAuth(value, written)
    if (problem !== null) {
      problems.push(`${key} ${problem}`)
      continue
    }
    for (const variable of group) {
      values[variable] = written[variable] ?? ''
      labels[variable] = `${key} (${variable})`
    }
  }
  return { values, labels, documentNamePattern, problems }
}

const KIND_WANTED: Readonly<Record<Kind, string>> = {
  integer: 'a whole number',
  'integer-or-null': 'a whole number or null',
  boolean: 'true or false',
  string: 'a string',
  'string-or-null': 'a string or null',
}

/** @returns the variable's value, or null when `value` is not of the kind. */
function writeFlat (value: unknown, kind: Kind): string | null {
  if (value === null) return kind.endsWith('-or-null') ? '' : null
  if (kind.startsWith('integer')) return typeof value === 'number' && Number.isInteger(value) ? String(value) : null
  if (kind === 'boolean') return typeof value === 'boolean' ? String(value) : null
  return typeof value === 'string' ? value : null
}

const shown = (value: unknown): string => typeof value === 'string' ? JSON.stringify(value) : value instanceof RegExp ? String(value) : typeof value === 'object' && value !== null ? 'an object' : String(value)

type Fields = Readonly<Record<string, unknown>>

/**
 * Checks that `value` is an object with exactly `keys` (each passing its check).
 * @returns a problem ("must be ...") or null.
 */
function shape (value: unknown, wanted: string, checks: Readonly<Record<string, (v: unknown) => boolean>>): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `must be ${wanted}`
  const fields = value as Fields
  const extra = Object.keys(fields).filter((k) => !(k in checks))
  if (extra.length > 0) return `has ${extra.map((k) => `"${k}"`).join(', ')}, which ${extra.length === 1 ? 'is' : 'are'} not part of ${wanted}`
  for (const [k, check] of Object.entries(checks)) if (!check(fields[k])) return `must be ${wanted} (its "${k}" is ${shown(fields[k])})`
  return null
}

const isString = (v: unknown): boolean => typeof v === 'string'
const isStringOrNull = (v: unknown): boolean => v === null || typeof v === 'string'
const isInteger = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v)
const isBoolean = (v: unknown): boolean => typeof v === 'boolean'
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every(isString)
const isObjectOrNull = (v: unknown): boolean => v === null || (typeof v === 'object' && !Array.isArray(v))

function writeStorage (value: unknown, out: Record<string, string>): string | null {
  const wanted = '{ kind: \'memory\' }, { kind: \'sqlite\', path, synchronous } or { kind: \'postgres\', url, poolSize, migrate }'
  const kind = (value as Fields | null)?.kind
  if (kind === 'memory') {
    const problem = shape(value, wanted, { kind: isString })
    if (problem !== null) return problem
    out.DATABASE_URL = 'memory:'
    return null
  }
  if (kind === 'sqlite') {
    const problem = shape(value, wanted, { kind: isString, path: isString, synchronous: isString })
    if (problem !== null) return problem
    const s = value as { path: string, synchronous: string }
    // sqlite:// + path reads back as exactly `path`, relative or absolute (see parseStorageUrl).
    out.DATABASE_URL = s.path === '' ? 'sqlite:' : `sqlite://${s.path}`
    out.SQLITE_SYNCHRONOUS = s.synchronous
    return null
  }
  if (kind === 'postgres') {
    const problem = shape(value, wanted, { kind: isString, url: isString, poolSize: isInteger, migrate: isBoolean })
    if (problem !== null) return problem
    const s = value as { url: string, poolSize: number, migrate: boolean }
    out.DATABASE_URL = s.url
    out.PG_POOL_SIZE = String(s.poolSize)
    out.MIGRATE_ON_START = String(s.migrate)
    return null
  }
  return `must be ${wanted}`
}

function writeRedis (value: unknown, out: Record<string, string>): string | null {
  if (value === null) return null // REDIS_URL unset: one instance
  const problem = shape(value, 'null or { url, prefix, peerTimeoutMs }', { url: isString, prefix: isString, peerTimeoutMs: isInteger })
  if (problem !== null) return problem
  const r = value as { url: string, prefix: string, peerTimeoutMs: number }
  out.REDIS_URL = r.url
  out.REDIS_PREFIX = r.prefix
  out.REDIS_PEER_TIMEOUT_MS = String(r.peerTimeoutMs)
  return null
}

function writeAuth (value: unknown, out: Record<string, string>): string | null {
  const problem = shape(value, '{ jwt, authorizeWebhook, betterAuth, sessionRecheckMs, defaultRole, accessPolicy, ownerOnCreate, cacheMs }', {
    jwt: isObjectOrNull, authorizeWebhook: isObjectOrNull, betterAuth: isObjectOrNull, sessionRecheckMs: isInteger,
    defaultRole: isString, accessPolicy: isString, ownerOnCreate: isBoolean, cacheMs: isInteger,
  })
  if (problem !== null) return problem
  const a = value as Fields
  out.SESSION_RECHECK_MS = String(a.sessionRecheckMs)
  out.DEFAULT_ROLE = a.defaultRole as string
  out.ACCESS_POLICY = a.accessPolicy as string
  out.OWNER_ON_CREATE = String(a.ownerOnCreate)
  out.AUTH_CACHE_MS = String(a.cacheMs)
  return writeJwt(a.jwt, out) ?? writeWebhook(a.authorizeWebhook, out) ?? writeBetterAuth(a.betterAuth, out)
}

function writeJwt (value: unknown, out: Record<string, string>): string | null {
  if (value === null) return null
  const problem = shape(value, 'a JWT configuration', {
    secret: isStringOrNull, publicKey: isStringOrNull, jwksUrl: isStringOrNull, algorithms: isStrings, issuer: isStringOrNull,
    audience: isStringOrNull, clockToleranceSec: isInteger, requireExp: isBoolean, userClaims: isStrings, roleClaim: isString,
    nameClaims: isStrings, documentsClaim: isString, documentPrefixClaim: isString, cookie: isStringOrNull,
  })
  if (problem !== null) return `.jwt ${problem}`
  const j = value as Record<string, string | null | number | boolean | string[]>
  out.JWT_SECRET = (j.secret as string | null) ?? ''
  out.JWT_PUBLIC_KEY = (j.publicKey as string | null) ?? ''
  out.JWT_JWKS_URL = (j.jwksUrl as string | null) ?? ''
  out.JWT_ALGORITHMS = (j.algorithms as string[]).join(',')
  out.JWT_ISSUER = (j.issuer as string | null) ?? ''
  out.JWT_AUDIENCE = (j.audience as string | null) ?? ''
  out.JWT_CLOCK_TOLERANCE_SEC = String(j.clockToleranceSec)
  out.JWT_REQUIRE_EXP = String(j.requireExp)
  out.JWT_USER_CLAIM = (j.userClaims as string[]).join(',')
  out.JWT_ROLE_CLAIM = j.roleClaim as string
  out.JWT_NAME_CLAIM = (j.nameClaims as string[]).join(',')
  out.JWT_DOCUMENTS_CLAIM = j.documentsClaim as string
  out.JWT_DOCUMENT_PREFIX_CLAIM = j.documentPrefixClaim as string
  out.JWT_COOKIE = (j.cookie as string | null) ?? ''
  return null
}

function writeWebhook (value: unknown, out: Record<string, string>): string | null {
  if (value === null) return null
  const problem = shape(value, 'null or { url, token, timeoutMs, cacheMs }', { url: isString, token: isStringOrNull, timeoutMs: isInteger, cacheMs: isInteger })
  if (problem !== null) return `.authorizeWebhook ${problem}`
  const w = value as { url: string, token: string | null, timeoutMs: number, cacheMs: number }
  out.AUTHORIZE_URL = w.url
  out.AUTHORIZE_TOKEN = w.token ?? ''
  out.AUTHORIZE_TIMEOUT_MS = String(w.timeoutMs)
  out.AUTHORIZE_CACHE_MS = String(w.cacheMs)
  return null
}

function writeBetterAuth (value: unknown, out: Record<string, string>): string | null {
  if (value === null) return null
  const wanted = 'null or { secret, source: { kind: \'postgres\', url } | { kind: \'sqlite\', path } | { kind: \'http\', url }, allowUnsigned }'
  const problem = shape(value, wanted, { secret: isString, source: isObjectOrNull, allowUnsigned: isBoolean })
  if (problem !== null) return `.betterAuth ${problem}`
  const b = value as { secret: string, source: Fields | null, allowUnsigned: boolean }
  const source = b.source
  if (source?.kind === 'postgres' && shape(source, 'x', { kind: isString, url: isString }) === null) out.BETTER_AUTH_DATABASE_URL = source.url as string
  else if (source?.kind === 'sqlite' && shape(source, 'x', { kind: isString, path: isString }) === null) out.BETTER_AUTH_DATABASE_URL = `sqlite:${source.path as string}`
  else if (source?.kind === 'http' && shape(source, 'x', { kind: isString, url: isString }) === null) out.BETTER_AUTH_URL = source.url as string
  else return `.betterAuth must be ${wanted}`
  out.BETTER_AUTH_SECRET = b.secret
  out.BETTER_AUTH_ALLOW_UNSIGNED = String(b.allowUnsigned)
  return null
}
