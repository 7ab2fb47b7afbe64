/**
 * The parts of many-instance serving that need no Redis: the message codec (round trips, and
 * malformed input as a ProtocolError, never anything else), the bookkeeping of peers'
 * unconfirmed updates, and what a room does with peers' updates, syncs and departures (with the
 * real Room, Y.Doc, durability queue and store).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { UnconfirmedUpdates } from '../../dist/documents/cluster.js'
import { Durability } from '../../dist/documents/durability.js'
import { Room, type Broadcast, type RoomHost, type RoomMember } from '../../dist/documents/room.js'
import { ProtocolError } from '../../dist/errors.js'
import { silentLogger } from '../../dist/log.js'
import { encodeAwarenessUpdate } from '../../dist/protocol/awareness.js'
import { decodePeerMessage, MessageType, NONE, PeerEncoder } from '../../dist/scaling/messages.js'
import { MemoryStore } from '../../dist/storage/memory.js'
import { prng } from '../helpers/wait.js'

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b)

describe('instance messages', () => {
  const enc = new PeerEncoder('inst-1')

  it('round-trips every type', () => {
    // Decoded byte fields are views into the message: compare them as plain Uint8Arrays.
    const decode = (b: Buffer): unknown => decodePeerMessage(new Uint8Array(b))
    expect(decode(enc.encode(MessageType.update, 3, 42, bytes(1, 2, 3)))).toEqual({ type: MessageType.update, from: 'inst-1', epoch: 3, seq: 42, update: bytes(1, 2, 3) })
    expect(decode(enc.encode(MessageType.committed, 3, 2 ** 40))).toEqual({ type: MessageType.committed, from: 'inst-1', epoch: 3, seq: 2 ** 40 })
    expect(decode(enc.encode(MessageType.awareness, bytes(9)))).toEqual({ type: MessageType.awareness, from: 'inst-1', update: bytes(9) })
    expect(decode(enc.encode(MessageType.syncRequest, bytes(0), NONE))).toEqual({ type: MessageType.syncRequest, from: 'inst-1', stateVector: bytes(0), awareness: NONE })
    expect(decode(enc.encode(MessageType.syncReply, 'a/doc ✓', bytes(0, 0), NONE, bytes(7)))).toEqual({ type: MessageType.syncReply, from: 'inst-1', document: 'a/doc ✓', update: bytes(0, 0), stateVector: NONE, awareness: bytes(7) })
    expect(decode(enc.encode(MessageType.stateless, '{"saved":true}'))).toEqual({ type: MessageType.stateless, from: 'inst-1', payload: '{"saved":true}' })
    expect(decode(enc.encode(MessageType.bye))).toEqual({ type: MessageType.bye, from: 'inst-1' })
    expect(decode(enc.encode(MessageType.rejoined))).toEqual({ type: MessageType.rejoined, from: 'inst-1' })
  })

  it('gives a ProtocolError, and only that, for anything malformed', () => {
    const random = prng(7)
    const valid = [
      enc.encode(MessageType.update, 1, 1, bytes(1, 2, 3)),
      enc.encode(MessageType.syncReply, 'doc', bytes(0, 0), bytes(0), bytes(1, 2)),
      enc.encode(MessageType.heartbeat),
    ]
    let errors = 0
    for (let i = 0; i < 20_000; i++) {
      const base = valid[i % valid.length]!
      const frame = random() < 0.5 ? Uint8Array.from(base) : new Uint8Array(Math.floor(random() * 12))
      const flips = 1 + Math.floor(random() * 3)
      for (let f = 0; f < flips && frame.length > 0; f++) frame[Math.floor(random() * frame.length)] = Math.floor(random() * 256)
      const cut = random() < 0.3 ? frame.subarray(0, Math.floor(random() * frame.length)) : frame
      try {
        decodePeerMessage(cut)
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
        errors++
      }
    }
    expect(errors).toBeGreaterThan(5000)
    expect(() => decodePeerMessage(Buffer.concat([enc.encode(MessageType.heartbeat), bytes(0)]))).toThrow(/bytes after/)
    expect(() => decodePeerMessage(enc.encode(99))).toThrow(/unknown instance message type 99/)
  })
})

describe('unconfirmed updates', () => {
  it('drops what the peer confirms, older epochs included, and hands over the rest', () => {
    const held = new UnconfirmedUpdates()
    held.hold('p', 1, 1, bytes(1))
    held.hold('p', 1, 2, bytes(2, 2))
    held.hold('p', 2, 1, bytes(3))
    held.hold('q', 5, 9, bytes(4))
    expect(held.bytes).toBe(5)
    held.confirm('p', 1, 1)
    expect(held.take('p')).toEqual([bytes(2, 2), bytes(3)])
    held.hold('p', 2, 2, bytes(5))
    held.confirm('p', 3, 0) // a later epoch: everything before it is durable
    expect(held.take('p')).toEqual([])
    expect(held.take(null)).toEqual([bytes(4)])
    expect(held.size).toBe(0)
    expect(held.bytes).toBe(0)
  })
})

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
  const durability = new Durability(store, silentLogger())
  const host: RoomHost = { durability, cluster: null, roomEmptied: () => {}, roomCommitted: () => {}, roomFailed: () => {} }
  const room = new Room('doc', new Y.Doc(), host, { updates: 0, bytes: 0 }, { maxAwarenessClientsPerMember: 4, broadcastWindowMs: 0 })
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
