/**
 * A map whose entries expire at a given time, bounded in entries and in bytes (the oldest go
 * first). Shared by the credential verdict cache and the AUTHORIZE_URL answer cache.
 *
 * Keys are credentials, which a client chooses: before these bounds, one socket sending
 * different 4 MiB garbage tokens grew a refusal cache by 4 MiB per token (an entry was dropped
 * only when the same token came again, or past 10,000 entries) until the heap ran out after
 * about 1,100. Now credentials past MAX_TOKEN_BYTES never reach a cache, the cache holds at most
 * `maxBytes` of keys, and every `set` first drops the expired entries at the old end, so
 * entries nobody asks for again do not outlive their time by much.
 */

/** What one entry costs beyond its key: the Map slot, the record, the value (an estimate). */
const ENTRY_OVERHEAD_BYTES = 128

export interface TtlCacheLimits {
  readonly maxEntries: number
  /** Keys (2 bytes per UTF-16 code unit) plus ENTRY_OVERHEAD_BYTES per entry. */
  readonly maxBytes: number
}

export const DEFAULT_TTL_CACHE_LIMITS: TtlCacheLimits = { maxEntries: 10_000, maxBytes: 8 * 1024 * 1024 }

const entryBytes = (key: string): number => 2 * key.length + ENTRY_OVERHEAD_BYTES

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V, until: number }>()
  private bytes = 0

  constructor (private readonly limits: TtlCacheLimits = DEFAULT_TTL_CACHE_LIMITS) {}

  get (key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.until <= now) {
      this.delete(key)
      return undefined
    }
    return entry.value
  }

  /** Keeps `value` until `until` (ms since epoch); a time already past, or a key over the byte bound, stores nothing. */
  set (key: string, value: V, until: number, now = Date.now()): void {
    this.sweep(now)
    if (until <= now || entryBytes(key) > this.limits.maxBytes) return
    this.delete(key)
    while (this.entries.size >= this.limits.maxEntries || (this.entries.size > 0 && this.bytes + entryBytes(key) > this.limits.maxBytes)) {
      this.delete(this.entries.keys().next().value!)
    }
    this.entries.set(key, { value, until })
    this.bytes += entryBytes(key)
  }

  get size (): number {
    return this.entries.size
  }

  /** Bytes held, by the estimate the bound uses. */
  get heldBytes (): number {
    return this.bytes
  }

  /**
   * Drops expired entries from the old end, stopping at the first live one: insertion order is
   * close to expiry order (a few lifetimes share a cache), so this is amortised O(1) per set and
   * leaves at most a few expired entries behind a long-lived one until it expires too.
   */
  private sweep (now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.until > now) return
      this.delete(key)
    }
  }

  private delete (key: string): void {
    if (this.entries.delete(key)) this.bytes -= entryBytes(key)
  }
}
