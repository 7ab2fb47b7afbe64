/** Picks the authenticator and authorizer the configuration asks for. */
import type { Config } from '../config.js'
import { anonymousAuthenticator } from './anonymous.js'
import { JwtAuthenticator } from './jwt.js'
import { RoleAuthorizer } from './roles.js'
import type { Authenticator, Authorizer } from './types.js'

export function createAuthenticator (config: Config): Authenticator {
  if (config.auth.jwt !== null) return new JwtAuthenticator(config.auth.jwt, config.auth.cacheMs)
  return anonymousAuthenticator
}

export function createAuthorizer (config: Config): Authorizer {
  return new RoleAuthorizer(config.auth.defaultRole)
}
