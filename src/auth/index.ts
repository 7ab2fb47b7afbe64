/** Picks the authenticator and authorizer the configuration asks for. */
import type { Config } from '../config.js'
import { anonymousAuthenticator } from './anonymous.js'
import { BetterAuthAuthenticator } from './better-auth/authenticator.js'
import { HttpSessions, PostgresSessions, SqliteSessions, type SessionSource } from './better-auth/sessions.js'
import { signToken } from './better-auth/signed-token.js'
import { JwtAuthenticator } from './jwt.js'
import { RoleAuthorizer } from './roles.js'
import type { Authenticator, Authorizer } from './types.js'
import { WebhookAuthorizer } from './webhook.js'

export function createAuthenticator (config: Config): Authenticator {
  if (config.auth.jwt !== null) return new JwtAuthenticator(config.auth.jwt, config.auth.cacheMs)
  const ba = config.auth.betterAuth
  if (ba !== null) {
    const source = ba.source
    const sessions: SessionSource = source.kind === 'postgres'
      ? new PostgresSessions(source.url)
      : source.kind === 'sqlite' ? new SqliteSessions(source.path) : new HttpSessions(source.url, (token) => signToken(token, ba.secret))
    return new BetterAuthAuthenticator(sessions, { secret: ba.secret, allowUnsigned: ba.allowUnsigned, cacheMs: config.auth.cacheMs })
  }
  return anonymousAuthenticator
}

export function createAuthorizer (config: Config): Authorizer {
  if (config.auth.authorizeWebhook !== null) return new WebhookAuthorizer(config.auth.authorizeWebhook)
  return new RoleAuthorizer(config.auth.defaultRole)
}
