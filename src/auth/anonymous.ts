/**
 * Anonymous access, when no authentication is configured: everyone is let in, and the role
 * authorizer gives anonymous principals read-write access to every document. `collabd start`
 * refuses to run this way with NODE_ENV=production unless ALLOW_ANONYMOUS=true.
 */
import type { AuthResult, Authenticator, Principal } from './types.js'

export const ANONYMOUS: Principal = Object.freeze({ userId: null, role: null, displayName: null, anonymous: true })

const ALLOWED: AuthResult = Object.freeze({ ok: true as const, principal: ANONYMOUS })

export const anonymousAuthenticator: Authenticator = {
  kind: 'anonymous',
  authenticate: async () => ALLOWED,
}
