/**
 * Reading credentials off a WebSocket upgrade request. Values are kept exactly as sent; what
 * they mean is the Authenticator's business. Never log the result.
 */
import type { IncomingMessage } from 'node:http'
import type { CredentialSource, Credentials } from './types.js'

/** Credentials from the HTTP upgrade request (the Hocuspocus token arrives later, per document). */
export function credentialsFromRequest (req: IncomingMessage, url: URL): Credentials {
  const authorization = req.headers.authorization
  const bearer = authorization !== undefined && /^bearer\s+/i.test(authorization) ? authorization.replace(/^bearer\s+/i, '').trim() : null
  return {
    hocuspocusToken: null,
    queryToken: url.searchParams.get('token'),
    bearerToken: bearer === '' ? null : bearer,
    cookies: parseCookies(req.headers.cookie),
    remoteAddress: req.socket.remoteAddress ?? 'unknown',
  }
}

/**
 * Parses a Cookie header (RFC 6265 section 4.2: `name=value; name2=value2`). Values are not
 * URL-decoded: signed session cookies are compared byte for byte later. The first of duplicate
 * names wins, as in browsers' document.cookie ordering.
 */
export function parseCookies (header: string | undefined): ReadonlyMap<string, string> {
  const cookies = new Map<string, string>()
  if (header === undefined) return cookies
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    const name = part.slice(0, eq).trim()
    let value = part.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    if (name !== '' && !cookies.has(name)) cookies.set(name, value)
  }
  return cookies
}

/**
 * The credential to check and where it came from, in this order: the Hocuspocus token message,
 * `Authorization: Bearer`, `?token=`, then the first of `cookieNames` present. The first one
 * present decides: a bad Hocuspocus token is not rescued by a cookie. Null when none was sent.
 */
export function pickCredential (credentials: Credentials, cookieNames: readonly string[]): { value: string, source: CredentialSource } | null {
  if (credentials.hocuspocusToken !== null && credentials.hocuspocusToken !== '') return { value: credentials.hocuspocusToken, source: 'hocuspocus-token' }
  if (credentials.bearerToken !== null) return { value: credentials.bearerToken, source: 'bearer' }
  if (credentials.queryToken !== null && credentials.queryToken !== '') return { value: credentials.queryToken, source: 'query' }
  for (const name of cookieNames) {
    const v = credentials.cookies.get(name)
    if (v !== undefined && v !== '') return { value: v, source: 'cookie' }
  }
  return null
}
