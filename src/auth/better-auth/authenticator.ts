/**
 * Better Auth sessions as credentials. The signed token comes from the first of: the
 * Hocuspocus token, `Authorization: Bearer` (Better Auth's bearer plugin), `?token=`, or the
 * session cookie. Its signature is checked with BETTER_AUTH_SECRET before any lookup; then the
 * session must exist, not be expired, and belong to a user who is not banned.
 *
 * `revoked` serves the periodic re-check of open connections: one batched lookup for every
 * session in use, returning those that ended (signed out, expired, user banned).
 */
import { pickCredential } from '../credentials.js'
import type { AuthResult, Authenticator, Credentials } from '../types.js'
import { VerdictCache } from '../verdict-cache.js'
import { UNAVAILABLE, type SessionRecord, type SessionSource } from './sessions.js'
import { verifySignedToken } from './signed-token.js'

export const SESSION_COOKIES = ['better-auth.session_token', '__Secure-better-auth.session_token'] as const

export interface BetterAuthOptions {
  readonly secret: string
  readonly allowUnsigned: boolean
  readonly cacheMs: number
}

/** Why a session may not be used now, or null when it may. */
export function sessionProblem (s: SessionRecord | undefined, now = Date.now()): string | null {
  if (s === undefined) return 'no such session (signed out or deleted)'
  if (s.expiresAt <= now) return 'session expired'
  if (s.banned && (s.banExpires === null || s.banExpires > now)) return 'user is banned'
  return null
}

export class BetterAuthAuthenticator implements Authenticator {
  readonly kind = 'better-auth'
  private readonly cache: VerdictCache

  constructor (private readonly sessions: SessionSource, private readonly options: BetterAuthOptions) {
    this.cache = new VerdictCache(options.cacheMs)
  }

  async authenticate (credentials: Credentials): Promise<AuthResult> {
    const picked = pickCredential(credentials, SESSION_COOKIES)
    if (picked === null) return { ok: false, reason: 'no session (expected the Better Auth session cookie, Authorization: Bearer, ?token= or the Hocuspocus token)' }
    const checked = verifySignedToken(picked.value, this.options.secret, this.options.allowUnsigned)
    if (!checked.ok) return { ok: false, reason: `better-auth from ${picked.source}: ${checked.reason}` }
    const cached = this.cache.get(checked.token)
    if (cached !== null) return cached
    const found = await this.sessions.find([checked.token])
    const looked = found.get(checked.token)
    if (looked === UNAVAILABLE) throw new Error('the session could not be looked up')
    const session = looked
    const problem = sessionProblem(session)
    const result: AuthResult = problem !== null
      ? { ok: false, reason: `better-auth from ${picked.source}: ${problem}`, userId: session?.userId ?? null }
      : { ok: true, principal: Object.freeze({ userId: session!.userId, role: session!.role, displayName: session!.name ?? session!.email, anonymous: false, authSession: checked.token }) }
    this.cache.set(checked.token, result, session?.expiresAt ?? null)
    return result
  }

  async revoked (sessions: readonly string[]): Promise<ReadonlySet<string>> {
    const found = await this.sessions.find(sessions)
    const now = Date.now()
    const ended = new Set<string>()
    for (const token of sessions) {
      const session = found.get(token)
      if (session === UNAVAILABLE) continue // not known to have ended: checked again next time
      const problem = sessionProblem(session, now)
      if (problem === null) continue
      ended.add(token)
      // A reconnect must not be let back in by a success cached before the session ended.
      this.cache.set(token, { ok: false, reason: `better-auth: ${problem}`, userId: session?.userId ?? null }, null, now)
    }
    return ended
  }

  async close (): Promise<void> {
    await this.sessions.close()
  }
}
