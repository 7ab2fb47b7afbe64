/**
 * Which documents are in memory (documents/registry.ts): one load for concurrent first joins, a
 * grace period after the last member leaves, an unload that writes and compacts and leaves
 * nothing behind, a join during an unload that loads afresh, a corrupt document refused without
 * a write, and a room failed by a half-applied update dropped and reloaded with what was
 * accepted before. Real Room, durability queue and memory store; the store is wrapped to count
 * and hold its calls (a stand-in around an interface we own).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Broadcast } from '../../src/documents/broadcast.js'
import { Durability } from '../../src/documents/durability.js'
import { Registry, type RegistryOptions } from '../../src/documents/registry.js'
import type { RoomMember } from '../../src/documents/room.js'
import { CloseCode, CorruptDocumentError } from '../../src/errors.js'
import { silentLogger } from '../../src/log.js'
import { MemoryStore } from '../../src/storage/memory.js'
import { GatedStore } from '../helpers/gated-store.js'
import { waitFor } from '../helpers/wait.js'

class Member implements RoomMember {
  readonly userId = null
  acks = 0
  evicted: number | null = null
  constructor (readonly id: string) {}
  sendMessage (): void {}
  sendBroadcast (_b: Broadcast): void {}
  acknowledge (n: number): void { this.acks += n }
  sendStateless (): void {}
  evict (code: number): void { this.evicted = code }
}

const OPTIONS: RegistryOptions = { unloadDelayMs: 50, compactAfterUpdates: 1000, compactAfterBytes: 1 << 30, maxAwarenessClientsPerMember: 4, broadcastWindowMs: 0 }

const registries: Registry[] = []
afterEach(async () => { for (const r of registries.splice(0)) await r.unloadAll() })

function setup (options: Partial<RegistryOptions> = {}): { registry: Registry, store: GatedStore, durability: Durability } {
  const store = new GatedStore(new MemoryStore())
  const durability = new Durability(store, silentLogger(), { maxPendingBytes: 1 << 20, commitIntervalMs: 0 })
  const registry = new Registry({ store, durability, cluster: null, log: silentLogger() }, { ...OPTIONS, ...options })
  registries.push(registry)
  return { registry, store, durability }
}

function edit (text: string, base = new Y.Doc()): Uint8Array {
  const before = Y.encodeStateVector(base)
  base.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(base, before)
}

async function storedText (store: GatedStore, name: string): Promise<string> {
  const stored = await store.load(name)
  const doc = new Y.Doc()
  if (stored?.snapshot != null) Y.applyUpdate(doc, stored.snapshot)
  for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u)
  return doc.getText('t').toString()
}

describe('registry', () => {
  it('loads a document once for concurrent first joins', async () => {
    const { registry, store } = setup()
    store.loadDelayMs = 30
    const [a, b] = await Promise.all([registry.join('doc', new Member('a')), registry.join('doc', new Member('b'))])
    expect(a).toBe(b)
    expect(store.loads).toBe(1)
    expect(a.members.size).toBe(2)
  })

  it('keeps a document through the grace period, then writes, compacts and forgets it', async () => {
    const { registry, store } = setup()
    const m = new Member('a')
    const room = await registry.join('doc', m)
    room.applyUpdate(m, edit('kept'))
    room.leave(m)
    const back = new Member('b')
    expect(await registry.join('doc', back)).toBe(room) // within the grace period: the same room
    room.leave(back)
    await waitFor(() => registry.size === 0, 'the document to unload')
    await waitFor(() => Object.values(registry.internals()).every((n) => n === 0), 'nothing to be left behind')
    expect(store.compactions).toBeGreaterThan(0)
    const stored = await store.load('doc')
    expect(stored!.updates).toHaveLength(0) // merged into the snapshot
    expect(await storedText(store, 'doc')).toBe('kept')
  })

  it('lets a join during an unload wait for it and load afresh', async () => {
    const { registry, store } = setup({ unloadDelayMs: 0 })
    const m = new Member('a')
    const room = await registry.join('doc', m)
    store.hold() // the unload's final writes wait
    room.applyUpdate(m, edit('written on the way out'))
    room.leave(m)
    await waitFor(() => registry.internals().unloading === 1, 'the unload to start')
    const joining = registry.join('doc', new Member('b'))
    store.release()
    const fresh = await joining
    expect(fresh).not.toBe(room)
    expect(fresh.doc.getText('t').toString()).toBe('written on the way out')
  })

  it('refuses a document whose stored bytes fail to decode, writes nothing, and tries again next time', async () => {
    const { registry, store } = setup()
    await store.append([{ document: 'bad', update: new Uint8Array([9, 9, 9]), userId: null }])
    const appendsBefore = store.appendCalls.length
    await expect(registry.join('bad', new Member('a'))).rejects.toBeInstanceOf(CorruptDocumentError)
    await expect(registry.join('bad', new Member('a'))).rejects.toBeInstanceOf(CorruptDocumentError)
    expect(store.loads).toBe(2)
    expect(store.appendCalls.length).toBe(appendsBefore)
    expect(registry.internals()).toEqual({ rooms: 0, loading: 0, unloading: 0, draining: 0, unloadTimers: 0, compacting: 0 })
  })

  it('compacts a document once its log passes the threshold', async () => {
    const { registry, store, durability } = setup({ compactAfterUpdates: 10 })
    const m = new Member('a')
    const room = await registry.join('doc', m)
    const source = new Y.Doc()
    for (let i = 0; i < 12; i++) room.applyUpdate(m, edit('x', source))
    await durability.drain()
    await waitFor(() => store.compactions > 0 && room.logUpdates < 12, 'a compaction')
    expect(m.acks).toBe(12)
    expect(await storedText(store, 'doc')).toBe('x'.repeat(12))
  })

  it('drops a room an update got half-way into and reloads it with what was accepted before', async () => {
    const { registry } = setup()
    const culprit = new Member('culprit')
    const other = new Member('other')
    const room = await registry.join('doc', culprit)
    await registry.join('doc', other)
    room.applyUpdate(other, edit('accepted'))
    const source = new Y.Doc()
    source.getText('t').insert(0, 'abc')
    source.getText('t').delete(0, 1)
    const full = Y.encodeStateAsUpdate(source)
    expect(() => room.applyUpdate(culprit, full.subarray(0, full.length - 1))).toThrow()
    expect(other.evicted).toBe(CloseCode.resetConnection)
    expect(registry.get('doc')).toBeUndefined()
    const again = await registry.join('doc', new Member('back'))
    expect(again).not.toBe(room)
    expect(again.doc.getText('t').toString()).toBe('accepted')
  })
})
