/**
 * Access decided by the app (AUTHORIZE_URL), for apps that keep their own ACLs (seed 002 checks
 * the user's firm against the draft's project): collabd POSTs the user and the document, the
 * app answers `{ "access": "none" | "read" | "write" }`. Answers are reused for AUTHORIZE_CACHE_MS
 * per user and document. Fails closed: an error, a timeout, a non-2xx status or any other body
 * throws, and admission denies the connection and logs why.
 */
import type { AuthorizeWebhookConfig } from '../config.js'
import { inScope } from './access-policy.js'
import { TtlCache } from './ttl-cache.js'
import type { Access, Authorizer, Principal } from './types.js'

const ACCESS: ReadonlySet<string> = new Set(['none', 'read', 'write'])

export class WebhookAuthorizer implements Authorizer {
  private readonly cache = new TtlCache<Access>()
  /** Questions on their way: concurrent connections of one user to one document ask once. */
  private readonly asking = new Map<string, Promise<Access>>()

  constructor (private readonly config: AuthorizeWebhookConfig) {}

  async authorize (principal: Principal, documentName: string): Promise<Access> {
    // A token limited to some documents stays limited, whatever the app would say.
    if (!inScope(principal.scope, documentName)) return 'none'
    const key = `${principal.userId ?? ''}\0${documentName}`
    const now = Date.now()
    const cached = this.cache.get(key, now)
    if (cached !== undefined) return cached
    let pending = this.asking.get(key)
    if (pending === undefined) {
      pending = this.ask(principal, documentName).finally(() => this.asking.delete(key))
      this.asking.set(key, pending)
    }
    const access = await pending
    this.cache.set(key, access, now + this.config.cacheMs, now)
    return access
  }

  private async ask (principal: Principal, documentName: string): Promise<Access> {
    const res = await fetch(this.config.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.config.token === null ? {} : { authorization: `Bearer ${this.config.token}` }),
      },
      body: JSON.stringify({
        user: principal.anonymous ? null : { id: principal.userId, role: principal.role, name: principal.displayName },
        document: documentName,
      }),
      signal: AbortSignal.timeout(this.config.timeoutMs),
    })
    if (!res.ok) throw new Error(`AUTHORIZE_URL answered HTTP ${res.status}`)
    const body = await res.json().catch(() => null) as { access?: unknown } | null
    const access = body?.access
    if (typeof access !== 'string' || !ACCESS.has(access)) throw new Error('AUTHORIZE_URL answered without "access": "none" | "read" | "write"')
    return access as Access
  }
}
