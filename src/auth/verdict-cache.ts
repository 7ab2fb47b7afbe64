/**
 * Recently checked credentials and what they proved, so that a reconnect storm or a Hocuspocus
 * socket opening twenty documents with one token costs one verification, not twenty. Keyed by
 * the credential itself (kept only in memory, never logged). Bounded: the oldest entries go first.
 */
import type { AuthResult } from './types.js'

const MAX_ENTRIES = 10_000
/** A refusal is remembered briefly, so a client retrying a bad token in a loop costs little. */
const REFUSAL_MS = 1000

export class VerdictCache {
  private readonly entries = new Map<string, { result: AuthResult, until: number }>()

  constructor (private readonly validMs: number) {}

  get (credential: string, now = Date.now()): AuthResult | null {
    const entry = this.entries.get(credential)
    if (entry === undefined) return null
    if (entry.until <= now) {
      this.entries.delete(credential)
      return null
    }
    return entry.result
  }

  /** `expiresAt` (ms since epoch): the credential's own end, which a cached success never outlives. */
  set (credential: string, result: AuthResult, expiresAt: number | null = null, now = Date.now()): void {
    if (this.validMs === 0) return
    let until = now + (result.ok ? this.validMs : Math.min(REFUSAL_MS, this.validMs))
    if (expiresAt !== null) until = Math.min(until, expiresAt)
    if (until <= now) return
    this.entries.delete(credential)
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(credential, { result, until })
  }
}
