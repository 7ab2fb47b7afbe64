/** Picks the authenticators and the authorizer the configuration asks for. */
import type { Config } from '../config.js'
import type { Logger } from '../log.js'
import { anonymousAuthenticator } from './anonymous.js'
import { BetterAuthAuthenticator } from './better-auth/authenticator.js'
import { HttpSessions, PostgresSessions, SqliteSessions, type SessionSource } from './better-auth/sessions.js'
import { signToken } from './better-auth/signed-token.js'
import { JwtAuthenticator } from './jwt.js'
import { PolicyAuthorizer } from './access-policy.js'
import type { AuthResult, Authenticator, Authorizer, Credentials, GrantStore } from './types.js'
import { WebhookAuthorizer } from './webhook.js'

export function createAuthenticator (config: Config): Authenticator {
  const jwt = config.auth.jwt === null ? null : new JwtAuthenticator(config.auth.jwt, config.auth.cacheMs)
  const ba = config.auth.betterAuth
  let sessions: BetterAuthAuthenticator | null = null
  if (ba !== null) {
    const source = ba.source
    const store: SessionSource = source.kind === 'postgres'
      ? new PostgresSessions(source.url)
      : source.kind === 'sqlite' ? new SqliteSessions(source.path) : new HttpSessions(source.url, (token) => signToken(token, ba.secret))
    sessions = new BetterAuthAuthenticator(store, { secret: ba.secret, allowUnsigned: ba.allowUnsigned, cacheMs: config.auth.cacheMs })
  }
  if (jwt !== null && sessions !== null) return new JwtOrSessionAuthenticator(jwt, sessions)
  return jwt ?? sessions ?? anonymousAuthenticator
}

/** A JWT has three base64url parts; a Better Auth signed token has two, the second standard base64. */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/

/**
 * Both configured (browsers with Better Auth sessions, services with JWTs): the credential the
 * client sent decides which one checks it.
 */
class JwtOrSessionAuthenticator implements Authenticator {
  readonly kind = 'jwt+better-auth'

  constructor (private readonly jwt: JwtAuthenticator, private readonly sessions: BetterAuthAuthenticator) {}

  async authenticate (credentials: Credentials): Promise<AuthResult> {
    const picked = this.jwt.pick(credentials)
    if (picked !== null && JWT_SHAPE.test(picked.value)) return await this.jwt.authenticate(credentials)
    return await this.sessions.authenticate(credentials)
  }

  async revoked (sessions: readonly string[]): Promise<ReadonlySet<string>> {
    return await this.sessions.revoked(sessions)
  }

  async close (): Promise<void> {
    await this.sessions.close()
  }
}

export function createAuthorizer (config: Config, grants: GrantStore | null, log: Logger): Authorizer {
  if (config.auth.authorizeWebhook !== null) return new WebhookAuthorizer(config.auth.authorizeWebhook)
  const { defaultRole, accessPolicy: policy, ownerOnCreate } = config.auth
  return new PolicyAuthorizer({ defaultRole, policy, ownerOnCreate }, grants, log)
}
