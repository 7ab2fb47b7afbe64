/**
 * Better Auth's signed session token: the cookie `better-auth.session_token` (or its
 * `__Secure-` variant on https) holds `encodeURIComponent(token + "." + base64(HMAC-SHA256(secret,
 * token)))`, and its bearer plugin sends the same `token.signature` unencoded. Checking the
 * signature first means a forged or tampered credential never reaches the database.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export type TokenCheck =
  | { readonly ok: true, readonly token: string }
  | { readonly ok: false, readonly reason: string }

/** Verifies `value` (URL-encoded or not) against `secret`. `allowUnsigned` accepts a bare token. */
export function verifySignedToken (value: string, secret: string, allowUnsigned = false): TokenCheck {
  let decoded = value
  if (value.includes('%')) {
    try {
      decoded = decodeURIComponent(value)
    } catch {
      return { ok: false, reason: 'session token is not valid URL encoding' }
    }
  }
  const dot = decoded.lastIndexOf('.')
  if (dot === -1) {
    return allowUnsigned && decoded !== '' ? { ok: true, token: decoded } : { ok: false, reason: 'session token is not signed' }
  }
  const token = decoded.slice(0, dot)
  const signature = decoded.slice(dot + 1)
  if (token === '') return { ok: false, reason: 'session token is empty' }
  if (signature.includes(' ')) {
    // `+` in a query string reads as a space: the client did not URL-encode the token.
    return { ok: false, reason: 'session token signature contains a space (a "+" that was not URL-encoded in ?token=)' }
  }
  // Exactly what Better Auth writes: 32 bytes in padded standard base64. Anything else is not a
  // signature of ours, however Buffer would decode it.
  if (!/^[A-Za-z0-9+/]{43}=$/.test(signature)) return { ok: false, reason: 'session token signature is malformed' }
  const expected = createHmac('sha256', secret).update(token).digest()
  const given = Buffer.from(signature, 'base64')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'session token signature does not match BETTER_AUTH_SECRET' }
  return { ok: true, token }
}

/** The signed form of `token`, as Better Auth puts it in its cookie (before URL encoding). */
export function signToken (token: string, secret: string): string {
  return `${token}.${createHmac('sha256', secret).update(token).digest('base64')}`
}
