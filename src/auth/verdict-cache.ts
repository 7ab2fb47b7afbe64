/**
 * Recently checked credentials and what they proved, so that a reconnect storm or a Hocuspocus
 * socket opening twenty documents with one token costs one verification, not twenty. Keyed by
 * the credential itself (kept only in memory, never logged). Bounded: the oldest entries go first.
 */
import { TtlCache } from './ttl-cache.js'
import type { AuthResult } from './types.js'

/** A refusal is remembered briefly, so a client retrying a bad token in a loop costs little. */
const REFUSAL_MS = 1000

export class VerdictCache {
  private readonly entries = new TtlCache<AuthResult>()

  constructor (private readonly validMs: number) {}

  get (credential: string, now = Date.now()): AuthResult | null {
    return this.entries.get(credential, now) ?? null
  }

  /** `expiresAt` (ms since epoch): the credential's own end, which a cached success never outlives. */
  set (credential: string, result: AuthResult, expiresAt: number | null = null, now = Date.now()): void {
    if (this.validMs === 0) return
    let until = now + (result.ok ? this.validMs : Math.min(REFUSAL_MS, this.validMs))
    if (expiresAt !== null) until = Math.min(until, expiresAt)
    this.entries.set(credential, result, until, now)
  }
}
