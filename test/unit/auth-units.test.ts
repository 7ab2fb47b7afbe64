/**
 * Small pieces of authentication that must be exact: Better Auth's signed token format (and
 * nothing looser), and configuration errors that never echo a secret.
 */
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { signToken, verifySignedToken } from '../../src/auth/better-auth/signed-token.js'
import { loadConfig } from '../../src/config.js'

const SECRET = 'better-auth-test-secret-0123456789abcdef0123456789'

describe('Better Auth signed tokens', () => {
  const token = 'M6Vs9eUfsGCuWGOYMlRKxiZVrCCAHGLh'
  const signed = signToken(token, SECRET)

  it('accepts the signed form, raw or URL-encoded as in the cookie', () => {
    expect(verifySignedToken(signed, SECRET)).toEqual({ ok: true, token })
    expect(verifySignedToken(encodeURIComponent(signed), SECRET)).toEqual({ ok: true, token })
  })

  it('refuses another secret, a changed token, and every non-canonical spelling of the signature', () => {
    const sig = signed.slice(token.length + 1)
    const url = sig.replace(/\+/g, '-').replace(/\//g, '_')
    expect(verifySignedToken(signed, 'another-secret-another-secret-another!!').ok).toBe(false)
    expect(verifySignedToken(`X${signed.slice(1)}`, SECRET).ok).toBe(false)
    for (const variant of [sig.replace(/=$/, ''), `${sig}garbage`, url === sig ? `${sig}=` : url, `${sig} `]) {
      expect(verifySignedToken(`${token}.${variant}`, SECRET).ok, variant).toBe(false)
    }
    expect(verifySignedToken('%E0%A4%A', SECRET)).toEqual({ ok: false, reason: 'session token is not valid URL encoding' })
  })

  it('takes a bare token only when unsigned tokens are allowed', () => {
    expect(verifySignedToken(token, SECRET).ok).toBe(false)
    expect(verifySignedToken(token, SECRET, true)).toEqual({ ok: true, token })
  })

  it('matches HMAC-SHA256 in base64, Better Auth\'s own signature', () => {
    expect(signed).toBe(`${token}.${createHmac('sha256', SECRET).update(token).digest('base64')}`)
  })
})

describe('configuration errors', () => {
  it('never echo a secret or a URL that may carry credentials', () => {
    const attempts = [
      { ADMIN_TOKEN: 'hunter2-admin-secret' },
      { AUTHORIZE_URL: 'ftp://user:pa55word@app.example/authorize' },
      { JWT_SECRET: 'short-but-secret' },
    ]
    for (const env of attempts) {
      let message = ''
      try {
        loadConfig(env)
      } catch (err) {
        message = (err as Error).message
      }
      expect(message).not.toBe('')
      for (const value of Object.values(env)) expect(message).not.toContain(value)
    }
  })
})
