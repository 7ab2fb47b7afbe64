/**
 * The shape of collabd's configuration: what `loadConfig` (config.ts) builds and freezes, and
 * the value lists its rules accept. No logic here, so every module (config-rules.ts,
 * config-overrides.ts, config.ts) can import it without a cycle.
 */
import type { Role } from './roles.js'

export type StorageConfig =
  | { readonly kind: 'memory' }
  | { readonly kind: 'sqlite', readonly path: string, readonly synchronous: 'full' | 'normal' }
  | { readonly kind: 'postgres', readonly url: string, readonly poolSize: number, readonly migrate: boolean }

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const
export type LogFormat = typeof LOG_FORMATS[number]
export type LogLevel = typeof LOG_LEVELS[number]

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
  /** Longest credential accepted, in bytes; longer ones are refused unverified. */
  readonly maxTokenBytes: number
  /** Refused documents after which a Hocuspocus socket is closed (4401). */
  readonly maxAuthFailuresPerConnection: number
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
export const REMOVED_ACCESS_POLICY = 'grants-or-role'

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
