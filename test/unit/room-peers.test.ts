/**
 * What a room does with other instances' updates, syncs, presence and departures (with the real
 * Room, Y.Doc, durability queue and store): a peer's update is relayed but written only if the
 * peer goes before confirming it, a sync reply is written only when it brings something new, and
 * held updates are written before a client is told its empty-handed update is durable.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Durability } from '../../src/documents/durability.js'
import { EndOfTurn } from '../../src/documents/relay.js'
import { Room, type Broadcast, type RoomHost, type RoomMember } from '../../src/documents/room.js'
import { silentLogger } from '../../src/log.js'
import { encodeAwarenessUpdate } from '../../src/protocol/awareness.js'
import { MemoryStore } from '../../src/storage/memory.js'

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b)

class Member implements RoomMember {
  readonly userId = null
  readonly received: Uint8Array[] = []
  acks = 0
  constructor (readonly id: string) {}
  sendMessage (): void {}
  sendBroadcast (b: Broadcast): void { this.received.push(...b.bodies) }
  acknowledge (n: number): void { this.acks += n }
  sendStateless (): void {}
  evict (): void {}
}

const rooms: Room[] = []
afterEach(() => { for (const r of rooms.splice(0)) r.destroy() })

function setup (): { room: Room, store: MemoryStore, durability: Durability } {
  const store = new MemoryStore()
  const durability = new Durability(store, silentLogger(), { maxPendingBytes: 1 << 20, commitIntervalMs: 0 })
  const host: RoomHost = { durability, cluster: null, turns: new EndOfTurn(), roomEmptied: () => {}, roomCommitted: () => {}, roomFailed: () => {} }
  const room = new Room({ name: 'doc', doc: new Y.Doc(), epoch: 1, stored: { updates: 0, bytes: 0, snapshot: null } }, host, { maxAwarenessClientsPerMember: 4, broadcastWindowMs: 0 })
  rooms.push(room)
  return { room, store, durability }
}

function edit (text: string, base?: Y.Doc): Uint8Array {
  const doc = base ?? new Y.Doc()
  const before = Y.encodeStateVector(doc)
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc, before)
}

async function storedText (store: MemoryStore): Promise<string> {
  const doc = new Y.Doc()
  const stored = await store.load('doc')
  for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u)
  return doc.getText('t').toString()
}

describe('a room with peers', () => {
  it('relays a peer\'s update to every member, and writes it only if the peer goes before confirming', async () => {
    const { room, store, durability } = setup()
    const m = new Member('m')
    room.join(m)
    room.applyPeerUpdate('peer', 1, 1, edit('from a peer'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(m.received.length).toBe(1)
    room.peerCommitted('peer', 1, 1)
    room.applyPeerUpdate('peer', 1, 2, edit('unconfirmed '))
    await durability.drain()
    expect(await storedText(store)).toBe('') // the peer writes its own updates
    room.peerGone('peer')
    await durability.drain()
    expect(await storedText(store)).toBe('unconfirmed ') // the confirmed one is the peer's to keep
  })

  it('writes an update from a sync reply only when it brings something new', async () => {
    const { room, store, durability } = setup()
    const source = new Y.Doc()
    const first = edit('abc', source)
    room.applySyncedUpdate('peer', first)
    source.getText('t').delete(0, 1)
    const all = Y.encodeStateAsUpdate(source, Y.encodeStateVector(room.doc)) // only the delete set
    room.applySyncedUpdate('peer', all)
    room.applySyncedUpdate('peer', Y.encodeStateAsUpdate(source, Y.encodeStateVector(source))) // nothing new at all
    await durability.drain()
    expect((await store.load('doc'))!.updates.length).toBe(2)
    expect(await storedText(store)).toBe('bc')
  })

  it('holds a peer\'s presence until the peer goes, and announces the removal', async () => {
    const { room } = setup()
    const m = new Member('m')
    room.join(m)
    room.applyPeerAwareness('peer', encodeAwarenessUpdate([{ clientId: 7, clock: 1, state: '{"user":"Ann"}' }]))
    expect(room.awareness.presentCount).toBe(1)
    expect(room.localAwareness()).toBeNull() // not ours to announce to other instances
    room.peerGone('peer')
    expect(room.awareness.presentCount).toBe(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(m.received.length).toBe(2) // the state, then its removal
  })

  it('forgets a peer\'s clients once they leave, however many come and go, and keeps taking new ones', () => {
    const { room } = setup()
    const m = new Member('m')
    room.join(m)
    for (let clientId = 1; clientId <= 1000; clientId++) {
      room.applyPeerAwareness('peer', encodeAwarenessUpdate([{ clientId, clock: 1, state: '{"user":"visitor"}' }]))
      room.applyPeerAwareness('peer', encodeAwarenessUpdate([{ clientId, clock: 2, state: 'null' }]))
    }
    expect(room.awareness.size).toBe(0) // no entry kept per departed client
    room.applyPeerAwareness('peer', encodeAwarenessUpdate([{ clientId: 5000, clock: 1, state: '{"user":"Ann"}' }]))
    expect(room.awareness.presentCount).toBe(1)
  })

  it('writes held peer updates before acknowledging a client whose update brings nothing new but a delete set', async () => {
    const { room, store, durability } = setup()
    const m = new Member('m')
    room.join(m)
    // The document has a deletion, so any client's sync step 2 carries a delete set.
    const src = new Y.Doc()
    room.applyUpdate(m, edit('abc', src))
    src.getText('t').delete(0, 1)
    room.applyUpdate(m, Y.encodeStateAsUpdate(src, Y.encodeStateVector(room.doc)))
    await durability.drain()
    const rowsBefore = (await store.load('doc'))!.updates.length
    room.applyPeerUpdate('peer', 1, 1, edit('held '))
    const acksBefore = m.acks
    room.applyUpdate(m, Y.encodeStateAsUpdate(src, Y.encodeStateVector(src))) // nothing new: the delete set only
    await durability.drain()
    expect(m.acks).toBe(acksBefore + 1)
    const stored = await store.load('doc')
    expect(stored!.updates.length).toBe(rowsBefore + 1) // the held update, not the empty-handed step 2
    expect(await storedText(store)).toContain('held ')
  })

  it('writes held peer updates before acknowledging a client that has nothing new', async () => {
    const { room, store, durability } = setup()
    const m = new Member('m')
    room.join(m)
    room.applyPeerUpdate('peer', 1, 1, edit('held'))
    room.applyUpdate(m, bytes(0, 0)) // e.g. a client's sync step 2 after reconnecting here
    await durability.drain()
    expect(m.acks).toBe(1)
    expect(await storedText(store)).toBe('held')
  })
})

describe('a room reading its stored document again', () => {
  it('relays to its members only what it lacked, and writes nothing', async () => {
    const { room, store, durability } = setup()
    const m = new Member('m')
    room.join(m)
    const elsewhere = new Y.Doc()
    const known = edit('known ', elsewhere)
    room.applySyncedUpdate('peer', known)
    await durability.drain()
    const rowsBefore = (await store.load('doc'))!.updates.length
    await new Promise((resolve) => setImmediate(resolve))
    m.received.length = 0
    const missed = edit('missed ', elsewhere) // written by an instance this one never heard from
    room.applyStoredState([known, missed])
    await new Promise((resolve) => setImmediate(resolve))
    expect(m.received).toHaveLength(1)
    expect(room.doc.getText('t').toString()).toBe('missed known ')
    await durability.drain()
    expect((await store.load('doc'))!.updates.length).toBe(rowsBefore)
  })
})
