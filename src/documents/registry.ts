/**
 * Which documents are in memory: one load for concurrent first joins, the grace period after the
 * last member leaves, the unload that writes, compacts and leaves nothing behind, a join during
 * an unload that loads afresh, and compaction past the thresholds after a commit. The rules are
 * ARCHITECTURE.md's "Document lifecycle" and "Compaction". Here is how they are kept: one map
 * per state (loading, loaded, unloading, draining), all empty when idle (`internals()`).
 */
import { EventEmitter } from 'node:events'
import { CloseCode, CorruptDocumentError, StoreUnavailableError } from '../errors.js'
import type { Logger } from '../log.js'
import { buildDoc } from '../storage/snapshot.js'
import type { DocumentStore } from '../storage/types.js'
import type { Cluster, LoadedRooms } from './cluster.js'
import type { Durability } from './durability.js'
import { EndOfTurn } from './relay.js'
import { Room, type RoomHost, type RoomMember } from './room.js'

/** What the registry works with (built by the composition root, src/index.ts). */
export interface RegistryParts {
  readonly store: DocumentStore
  readonly durability: Durability
  /** The other instances (REDIS_URL), or null when this one is alone. */
  readonly cluster: Cluster | null
  readonly log: Logger
}

export interface RegistryOptions {
  readonly unloadDelayMs: number
  readonly compactAfterUpdates: number
  readonly compactAfterBytes: number
  readonly maxAwarenessClientsPerMember: number
  /** See RoomOptions.broadcastWindowMs. */
  readonly broadcastWindowMs: number
}

export interface RegistryEvents {
  loaded: [{ name: string, ms: number, snapshotBytes: number, logUpdates: number }]
  unloaded: [{ name: string }]
}

/** Why a compaction runs: after a commit past the thresholds, or as a document unloads. */
type CompactionCause = 'threshold' | 'unload'

export class Registry extends EventEmitter<RegistryEvents> implements RoomHost, LoadedRooms {
  readonly durability: Durability
  readonly cluster: Cluster | null
  /** Relays due at the end of this turn of the event loop, one setImmediate for every room. */
  readonly turns = new EndOfTurn()
  private readonly store: DocumentStore
  private readonly log: Logger
  /** Loads of documents so far: each room's epoch (its sequence numbers restart with each). */
  private loads = 0
  private readonly rooms = new Map<string, Room>()
  private readonly loading = new Map<string, Promise<Room>>()
  private readonly unloading = new Map<string, Promise<void>>()
  /**
   * Rooms being unloaded cleanly (no members, writing their last updates): still whole, so they
   * can answer other instances' sync requests until they are gone.
   */
  private readonly draining = new Map<string, Room>()
  private readonly unloadTimers = new Map<string, NodeJS.Timeout>()
  private readonly compacting = new Map<string, Promise<void>>()

  constructor (parts: RegistryParts, private readonly options: RegistryOptions) {
    super()
    this.store = parts.store
    this.durability = parts.durability
    this.cluster = parts.cluster
    this.log = parts.log
  }

  /** Documents in memory. */
  get size (): number {
    return this.rooms.size
  }

  /** The room if loaded. */
  get (name: string): Room | undefined {
    return this.rooms.get(name)
  }

  /** A room being unloaded cleanly, not yet destroyed (see `draining`). */
  unloadingRoom (name: string): Room | undefined {
    return this.draining.get(name)
  }

  /** Resolves once the documents being unloaded now are written and gone; null when there are none. */
  unloadsSettled (): Promise<void> | null {
    if (this.unloading.size === 0) return null
    return Promise.allSettled([...this.unloading.values()]).then(() => {})
  }

  /** Names of loaded documents (a copy). */
  names (): string[] {
    return [...this.rooms.keys()]
  }

  /**
   * Adds `member` to the document's room, loading it first if needed.
   * @throws {CorruptDocumentError} when the stored document fails to decode.
   * @throws {StoreUnavailableError} when the store cannot be read.
   */
  async join (name: string, member: RoomMember): Promise<Room> {
    const room = this.rooms.get(name) ?? await this.load(name)
    const timer = this.unloadTimers.get(name)
    if (timer !== undefined) {
      clearTimeout(timer)
      this.unloadTimers.delete(name)
    }
    room.join(member)
    return room
  }

  private load (name: string): Promise<Room> {
    let loading = this.loading.get(name)
    if (loading === undefined) {
      loading = this.loadFromStore(name).finally(() => this.loading.delete(name))
      this.loading.set(name, loading)
    }
    return loading
  }

  /**
   * Loads the document, once more if a replayed peer message fails the new room (the load is
   * then done afresh, from the store and the peers' new answers).
   */
  private async loadFromStore (name: string): Promise<Room> {
    const room = await this.loadOnce(name)
    if (!room.failed) return room
    const again = await this.loadOnce(name)
    if (!again.failed) return again
    throw new StoreUnavailableError(`document "${name}" was reset twice while loading`)
  }

  private async loadOnce (name: string): Promise<Room> {
    const unloading = this.unloading.get(name)
    if (unloading !== undefined) await unloading
    const start = performance.now()
    // Listen to the other instances first, so an update published while the store is read is
    // either in what is read, in the peers' answer to attach's sync request, or received after.
    await this.cluster?.open(name)
    let stored, doc
    try {
      stored = await this.store.load(name)
      doc = buildDoc(name, stored)
    } catch (err) {
      this.cluster?.close(name)
      if (err instanceof CorruptDocumentError) {
        this.log.error({ document: name, detail: err.detail }, 'stored document failed to decode; refusing to load it (stored bytes left untouched)')
      }
      throw err
    }
    const logBytes = stored?.updates.reduce((n, u) => n + u.length, 0) ?? 0
    const init = { name, doc, epoch: ++this.loads, stored: { updates: stored?.updates.length ?? 0, bytes: logBytes, snapshot: stored?.snapshot ?? null } }
    const room = new Room(init, this, this.options)
    this.rooms.set(name, room)
    // Replays what peers sent during the load: that may fail the room (it is then being dropped).
    this.cluster?.attach(room)
    if (room.failed) return room
    const ms = Math.round((performance.now() - start) * 100) / 100
    const info = { name, ms, snapshotBytes: stored?.snapshot?.length ?? 0, logUpdates: stored?.updates.length ?? 0 }
    this.log.info({ document: name, ms, snapshotBytes: info.snapshotBytes, logUpdates: info.logUpdates }, 'document loaded')
    this.emit('loaded', info)
    return room
  }

  /**
   * Reads a loaded document from the store again and applies what the room lacks (after a
   * Redis outage, edits of other instances may be only there).
   */
  async refreshFromStore (name: string): Promise<void> {
    const stored = await this.store.load(name)
    const room = this.rooms.get(name)
    if (stored === null || room === undefined || room.failed) return
    const parts = stored.snapshot === null ? stored.updates : [stored.snapshot, ...stored.updates]
    room.applyStoredState(parts)
  }

  roomEmptied (room: Room): void {
    if (this.rooms.get(room.name) !== room || this.unloadTimers.has(room.name)) return
    const timer = setTimeout(() => {
      this.unloadTimers.delete(room.name)
      void this.unload(room)
    }, this.options.unloadDelayMs)
    timer.unref()
    this.unloadTimers.set(room.name, timer)
  }

  roomCommitted (room: Room): void {
    if (this.rooms.get(room.name) !== room) return
    if (room.logUpdates >= this.options.compactAfterUpdates || room.logBytes >= this.options.compactAfterBytes) {
      void this.compact(room, 'threshold')
    }
  }

  roomFailed (room: Room, err: Error): void {
    this.log.warn({ document: room.name, err }, 'an update failed half-way; dropping the in-memory document without writing it, clients reconnect and it reloads from the store')
    this.drop(room)
    // Updates accepted before the failure are still being written; a reload must see them.
    const settling = room.whenDurable().finally(() => {
      this.destroy(room)
      this.unloading.delete(room.name)
    })
    this.unloading.set(room.name, settling)
  }

  /**
   * Unloads every document now (shutdown): waits for its updates to be durable, compacts, frees.
   * Members still listed (their close events have not fired yet) are evicted first.
   */
  async unloadAll (): Promise<void> {
    for (const timer of this.unloadTimers.values()) clearTimeout(timer)
    this.unloadTimers.clear()
    for (const room of this.rooms.values()) room.evictAll(CloseCode.serviceRestart, 'server restarting')
    await Promise.all([...this.rooms.values()].map((room) => this.unload(room)))
    await Promise.all([...this.unloading.values()])
  }

  private unload (room: Room): Promise<void> {
    if (room.members.size > 0 || this.rooms.get(room.name) !== room) return Promise.resolve()
    this.drop(room)
    this.draining.set(room.name, room)
    const unloading = (async () => {
      try {
        await room.whenDurable()
        if (room.logUpdates > 0 || this.compacting.has(room.name)) await this.compact(room, 'unload')
      } finally {
        this.destroy(room)
        this.unloading.delete(room.name)
      }
      this.log.info({ document: room.name }, 'document unloaded')
      this.emit('unloaded', { name: room.name })
    })()
    this.unloading.set(room.name, unloading)
    return unloading
  }

  private destroy (room: Room): void {
    if (this.draining.get(room.name) === room) this.draining.delete(room.name)
    room.destroy()
    this.cluster?.close(room.name)
  }

  private drop (room: Room): void {
    if (this.rooms.get(room.name) === room) this.rooms.delete(room.name)
    const timer = this.unloadTimers.get(room.name)
    if (timer !== undefined) clearTimeout(timer)
    this.unloadTimers.delete(room.name)
  }

  /**
   * Compacts the room's document. Past a threshold it is skipped while one runs; on unload it
   * waits for a running compaction and runs again if anything is left.
   */
  private async compact (room: Room, cause: CompactionCause): Promise<void> {
    const running = this.compacting.get(room.name)
    if (running !== undefined) {
      if (cause === 'threshold') return
      await running
      if (room.logUpdates === 0) return
    }
    const compaction = this.runCompaction(room, cause).finally(() => this.compacting.delete(room.name))
    this.compacting.set(room.name, compaction)
    await compaction
  }

  private async runCompaction (room: Room, cause: CompactionCause): Promise<void> {
    const start = performance.now()
    try {
      const result = await this.store.compact(room.name)
      room.logUpdates = Math.max(0, room.logUpdates - result.mergedUpdates)
      room.logBytes = Math.max(0, room.logBytes - result.mergedBytes)
      this.log.debug({ document: room.name, ...result, ms: Math.round(performance.now() - start), cause }, 'document compacted')
    } catch (err) {
      if (err instanceof CorruptDocumentError) {
        this.log.error({ document: room.name, detail: err.detail }, 'compaction found stored bytes that fail to decode; left them untouched')
      } else {
        this.log.warn({ document: room.name, err }, 'compaction failed; will retry after the next commit')
      }
    }
  }

  /** Sizes of every per-document table, for tests and diagnostics: all 0 when idle. */
  internals (): { rooms: number, loading: number, unloading: number, draining: number, unloadTimers: number, compacting: number } {
    return { rooms: this.rooms.size, loading: this.loading.size, unloading: this.unloading.size, draining: this.draining.size, unloadTimers: this.unloadTimers.size, compacting: this.compacting.size }
  }
}
