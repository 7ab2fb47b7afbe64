/**
 * The rules configuration values must follow: one per environment variable (`schema`), each
 * failing with what it wants in words a user reads, and the settings derived from several
 * variables (storage from DATABASE_URL, JWT, Better Auth). config.ts applies them.
 */
import * as path from 'node:path'
import { z } from 'zod'
import { ACCESS_POLICIES, LOG_FORMATS, LOG_LEVELS, REMOVED_ACCESS_POLICY, type BetterAuthConfig, type JwtConfig, type StorageConfig } from './config-types.js'
import { ROLES } from './roles.js'

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

/** One rule per environment variable of ENVIRONMENT (config.ts); a unit test keeps the two lists in step. */
export const schema = z.object({
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
  MAX_TOKEN_BYTES: wholeNumber(256),
  MAX_AUTH_FAILURES_PER_CONNECTION: wholeNumber(1),
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

/** The environment as the rules read it. */
export type Environment = z.infer<typeof schema>

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
export function sharedStoreProblem ({ redis, storage, databaseUrlUnset }: { readonly redis: boolean, readonly storage: StorageConfig, readonly databaseUrlUnset: boolean }): string | null {
  if (!redis || storage.kind === 'postgres') return null
  const what = storage.kind === 'memory' ? 'memory:, which no other instance sees' : databaseUrlUnset ? `unset, so each instance would keep its own SQLite file (${DEFAULT_SQLITE_PATH})` : 'a SQLite file, which only one instance may use'
  return `REDIS_URL is set for several instances, but DATABASE_URL is ${what}: set DATABASE_URL to the PostgreSQL database they all share`
}

const list = (value: string): string[] => value.split(',').map((v) => v.trim()).filter((v) => v !== '')

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512']
const KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']

/** JWT settings, or null when no key is configured. @throws {Error} naming the variable at fault. */
export function jwtConfig (e: Environment): JwtConfig | null {
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
export function betterAuthConfig (e: Environment, storage: StorageConfig): BetterAuthConfig | null {
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
