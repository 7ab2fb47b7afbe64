/**
 * A map whose entries expire at a given time and which holds at most `maxEntries` (the oldest
 * go first). Shared by the credential verdict cache and the AUTHORIZE_URL answer cache.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V, until: number }>()

  constructor (private readonly maxEntries = 10_000) {}

  get (key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.until <= now) {
      this.entries.delete(key)
      return undefined
    }
    return entry.value
  }

  /** Keeps `value` until `until` (ms since epoch); a time already past stores nothing. */
  set (key: string, value: V, until: number, now = Date.now()): void {
    if (until <= now) return
    this.entries.delete(key)
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(key, { value, until })
  }
}
