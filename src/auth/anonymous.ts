/**
 * Anonymous access: everyone is let in with read-write access to every document. The only
 * implementation until real authentication is configured; `collabd start` refuses to use it
 * with NODE_ENV=production unless ALLOW_ANONYMOUS=true.
 */
import type { Access, AuthResult, Authenticator, Authorizer, Principal } from './types.js'

export const ANONYMOUS: Principal = Object.freeze({ userId: null, role: null, displayName: null, anonymous: true })

const ALLOWED: AuthResult = Object.freeze({ ok: true as const, principal: ANONYMOUS })

export const anonymousAuthenticator: Authenticator = {
  kind: 'anonymous',
  authenticate: async () => ALLOWED,
}

export const allowAllAuthorizer: Authorizer = {
  authorize: async (): Promise<Access> => 'write',
}
