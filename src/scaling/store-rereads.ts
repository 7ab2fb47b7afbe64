/**
 * Reading every loaded document from the store again, when edits may exist only there: after
 * this instance's Redis outage, when another instance comes back from one (REJOINED), and when
 * another instance times out (it may have died cut off from Redis). Such an instance wrote edits
 * nobody heard of, and may have let the document go since, so nobody can answer a sync request
 * for them; the store has them.
 *
 * One pass at a time, one document at a time (a pass over thousands of documents must not load
 * the store all at once); a pass asked for while one runs makes one more run after it (it must
 * start after the request to see what it was for). Documents still loading when a pass is asked
 * for are read again once they are loaded (`loaded`): their first read may have come too early.
 */
import type { LoadedRooms } from '../documents/cluster.js'
import type { Logger } from '../log.js'

export class StoreRereads {
  private running = false
  private again = false
  private stopped = false
  /** Documents loading while a pass was asked for: read again once loaded. */
  private readonly onceLoaded = new Set<string>()

  constructor (private readonly rooms: LoadedRooms, private readonly log: Logger) {}

  /** Asks for a pass over every loaded document, and over `loading` ones once they are loaded. */
  request (why: string, loading: Iterable<string>): void {
    for (const name of loading) this.onceLoaded.add(name)
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    this.passes(why)
      .catch((err: unknown) => this.log.error({ err, why }, 'reading documents from the store again failed'))
      .finally(() => { this.running = false })
  }

  /** A document finished loading: read it again if a pass was asked for while it loaded. */
  loaded (name: string): void {
    if (!this.onceLoaded.delete(name)) return
    this.rooms.refreshFromStore(name).catch((err: unknown) => {
      this.log.warn({ err, document: name }, 'reading a document from the store again failed; its clients get the missing edits when it reloads')
    })
  }

  /** The document is gone from this instance (or failed to load). */
  forget (name: string): void {
    this.onceLoaded.delete(name)
  }

  /** No more passes (shutdown); a running one stops at its next document. */
  stop (): void {
    this.stopped = true
  }

  private async passes (why: string): Promise<void> {
    do {
      this.again = false
      // One warning a pass, not one per document (a store that is down fails them all).
      let failed = 0
      let firstError: unknown = null
      for (const name of this.rooms.names()) {
        if (this.stopped) break
        try {
          await this.rooms.refreshFromStore(name)
        } catch (err) {
          if (failed++ === 0) firstError = err
        }
      }
      if (failed > 0) this.log.warn({ err: firstError, documents: failed, why }, 'reading documents from the store again failed; their clients get the missing edits when they reload')
    } while (this.again && !this.stopped)
  }
}
