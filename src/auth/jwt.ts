/**
 * JWT authentication (jose): a shared secret (HS*), a PEM public key, or a JWKS endpoint that
 * is cached and fetched again when a token names a key id it does not know (key rotation).
 * `exp` (required unless JWT_REQUIRE_EXP=false) and `nbf` are enforced with
 * JWT_CLOCK_TOLERANCE_SEC of skew; `iss` and `aud` when set.
 *
 * The token comes from the first credential present, in this order: the Hocuspocus token
 * message, `Authorization: Bearer`, `?token=`, then the JWT_COOKIE cookie. The first one present
 * decides: a bad Hocuspocus token is not rescued by a cookie.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { JwtConfig } from '../config.js'
import { pickCredential } from './credentials.js'
import type { AuthResult, Authenticator, CredentialSource, Credentials, DocumentScope } from './types.js'
import { VerdictCache } from './verdict-cache.js'

/** Least time between two JWKS fetches for unknown key ids (tokens with made-up kids cannot hammer the endpoint). */
const JWKS_COOLDOWN_MS = 2000
const JWKS_TIMEOUT_MS = 5000

const firstString = (payload: JWTPayload, claims: readonly string[]): string | null => {
  for (const claim of claims) {
    const v = payload[claim]
    if (typeof v === 'string' && v !== '') return v
    if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  }
  return null
}

export class JwtAuthenticator implements Authenticator {
  readonly kind = 'jwt'
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey
  private readonly cache: VerdictCache
  private readonly cookies: readonly string[]

  constructor (private readonly config: JwtConfig, cacheMs: number) {
    if (config.secret !== null) this.key = new TextEncoder().encode(config.secret)
    else if (config.publicKey !== null) this.key = createPublicKey(config.publicKey)
    else this.key = createRemoteJWKSet(new URL(config.jwksUrl!), { cooldownDuration: JWKS_COOLDOWN_MS, timeoutDuration: JWKS_TIMEOUT_MS })
    this.cache = new VerdictCache(cacheMs)
    this.cookies = config.cookie === null ? [] : [config.cookie]
  }

  /** The credential this authenticator would check, or null when the client sent none. */
  pick (credentials: Credentials): { value: string, source: CredentialSource } | null {
    return pickCredential(credentials, this.cookies)
  }

  async authenticate (credentials: Credentials): Promise<AuthResult> {
    const picked = this.pick(credentials)
    if (picked === null) return { ok: false, reason: 'no token (expected the Hocuspocus token, Authorization: Bearer, ?token= or the JWT cookie)' }
    const cached = this.cache.get(picked.value)
    if (cached !== null) return cached
    const { result, expiresAt } = await this.verify(picked.value, picked.source)
    this.cache.set(picked.value, result, expiresAt)
    return result
  }

  private async verify (token: string, source: CredentialSource): Promise<{ result: AuthResult, expiresAt: number | null }> {
    const c = this.config
    let payload: JWTPayload
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: [...c.algorithms],
        clockTolerance: c.clockToleranceSec,
        ...(c.requireExp ? { requiredClaims: ['exp'] } : {}),
        ...(c.issuer === null ? {} : { issuer: c.issuer }),
        ...(c.audience === null ? {} : { audience: c.audience }),
      }))
    } catch (err) {
      return { result: refusal(err, source, this.config.userClaims), expiresAt: null }
    }
    const userId = firstString(payload, c.userClaims)
    if (userId === null) return { result: { ok: false, reason: `jwt from ${source}: no user id in claims ${c.userClaims.join(', ')}` }, expiresAt: null }
    const scope = documentScope(payload, c)
    if (typeof scope === 'string') return { result: { ok: false, reason: `jwt from ${source}: ${scope}`, userId }, expiresAt: null }
    const role = payload[c.roleClaim]
    return {
      result: {
        ok: true,
        principal: Object.freeze({
          userId,
          role: typeof role === 'string' ? role : null,
          displayName: firstString(payload, c.nameClaims),
          anonymous: false,
          scope,
        }),
      },
      expiresAt: typeof payload.exp === 'number' ? (payload.exp + c.clockToleranceSec) * 1000 : null,
    }
  }
}

/** The documents claim (a list of names) and prefix claim; a string names what is malformed. */
function documentScope (payload: JWTPayload, c: JwtConfig): DocumentScope | null | string {
  const names = payload[c.documentsClaim]
  const prefix = payload[c.documentPrefixClaim]
  if (names === undefined && prefix === undefined) return null
  if (names !== undefined && (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))) return `claim "${c.documentsClaim}" must be a list of document names`
  if (prefix !== undefined && typeof prefix !== 'string') return `claim "${c.documentPrefixClaim}" must be a string`
  return { names: names === undefined ? null : new Set(names as string[]), prefix: prefix === undefined ? null : prefix as string }
}

/** A log line for a failed verification: what failed, never the token. */
function refusal (err: unknown, source: CredentialSource, userClaims: readonly string[]): AuthResult {
  const what = `jwt from ${source}`
  if (err instanceof errors.JWTExpired) {
    return { ok: false, reason: `${what}: expired`, userId: firstString(err.payload, userClaims) }
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return { ok: false, reason: `${what}: claim "${err.claim}" ${err.reason === 'check_failed' ? 'check failed' : err.reason}`, userId: firstString(err.payload, userClaims) }
  }
  if (err instanceof errors.JOSEError) return { ok: false, reason: `${what}: ${err.code}` }
  return { ok: false, reason: `${what}: ${(err as Error)?.message ?? String(err)}` }
}
