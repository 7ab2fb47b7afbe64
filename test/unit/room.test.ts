/**
 * A room as its members see it: what one member sends reaches the others once per turn of the
 * event loop, merged when many share it, never back to the sender, bounded in size, stretched
 * over a window only when asked, in order with presence, and acknowledged once durable; a
 * half-applied update resets everyone else. The members are recording implementations of the
 * RoomMember interface; the room, its Y.Doc, the durability queue and the store are real.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { Durability } from '../../src/documents/durability.js'
import { EndOfTurn } from '../../src/documents/relay.js'
import { Room, type Broadcast, type RoomHost, type RoomMember } from '../../src/documents/room.js'
import { CloseCode, InvalidUpdateError } from '../../src/errors.js'
import { silentLogger } from '../../src/log.js'
import { Reader } from '../../src/protocol/binary.js'
import { MemoryStore } from '../../src/storage/memory.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

class RecordingMember implements RoomMember {
  readonly userId = null
  /** Each broadcast received: the updates its bodies carry. */
  readonly broadcasts: Uint8Array[][] = []
  /** Every body received, in order: 'update' or 'awareness'. */
  readonly kinds: string[] = []
  acks = 0
  constructor (readonly id: string) {}
  sendMessage (_body: Uint8Array): void {}
  sendBroadcast (b: Broadcast): void {
    const updates: Uint8Array[] = []
    for (const body of b.bodies) {
      const r = new Reader(body)
      const type = r.varUint()
      if (type === 1) {
        this.kinds.push('awareness')
        continue
      }
      expect(type).toBe(0) // sync
      expect(r.varUint()).toBe(2) // update
      this.kinds.push('update')
      updates.push(r.varBytes())
    }
    this.broadcasts.push(updates)
  }

  acknowledge (count: number): void { this.acks += count }
  sendStateless (): void {}
  evictedWith: number | null = null
  evict (code: number): void { this.evictedWith = code }
  /** Every update received, applied to a fresh doc. */
  text (): string {
    const doc = new Y.Doc()
    for (const b of this.broadcasts) for (const u of b) Y.applyUpdate(doc, u)
    return doc.getText('t').toString()
  }
}

const rooms: Room[] = []
afterEach(() => { for (const r of rooms.splice(0)) r.destroy() })

const failures: Error[] = []
afterEach(() => { failures.length = 0 })

function room (broadcastWindowMs = 0): Room {
  const host: RoomHost = {
    durability: new Durability(new MemoryStore(), silentLogger(), { maxPendingBytes: 1 << 20, commitIntervalMs: 0 }),
    cluster: null,
    turns: new EndOfTurn(),
    roomEmptied: () => {},
    roomCommitted: () => {},
    roomFailed: (_room, err) => { failures.push(err) },
  }
  const r = new Room({ name: 'doc', doc: new Y.Doc(), epoch: 1, stored: { updates: 0, bytes: 0, snapshot: null } }, host, { maxAwarenessClientsPerMember: 4, broadcastWindowMs })
  rooms.push(r)
  return r
}

/** An awareness update of one client (protocol/awareness encoding). */
function awarenessUpdate (clientId: number, clock: number, state: string): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, clientId)
  encoding.writeVarUint(e, clock)
  encoding.writeVarString(e, state)
  return encoding.toUint8Array(e)
}

/** `count` one-character edits by one client, each as its own update. */
function edits (count: number, char: string): Uint8Array[] {
  const doc = new Y.Doc()
  const out: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => out.push(u))
  for (let i = 0; i < count; i++) doc.getText('t').insert(i, char)
  return out
}

function members (r: Room, n: number): RecordingMember[] {
  return Array.from({ length: n }, (_, i) => {
    const m = new RecordingMember(`m${i}`)
    r.join(m)
    return m
  })
}

/** An update that Yjs applies half-way: its structs integrate, then its delete set is cut short. */
function halfApplying (): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'abc')
  doc.getText('t').delete(0, 1)
  const full = Y.encodeStateAsUpdate(doc)
  return full.subarray(0, full.length - 1)
}

describe('room relay', () => {
  it('relays what one member sent in one turn as one merged update to each other member, and nothing to the sender', async () => {
    const r = room()
    const [writer, ...readers] = members(r, 5)
    for (const u of edits(10, 'a')) r.applyUpdate(writer!, u)
    expect(readers[0]!.broadcasts).toHaveLength(0) // not before the end of the turn
    await turn()
    for (const reader of readers) {
      expect(reader.broadcasts).toHaveLength(1)
      expect(reader.broadcasts[0]).toHaveLength(1)
      expect(reader.text()).toBe('a'.repeat(10))
    }
    expect(writer!.broadcasts).toHaveLength(0)
  })

  it('sends a small audience one message per update, still in one write', async () => {
    const r = room()
    const [writer, reader] = members(r, 2)
    for (const u of edits(5, 'b')) r.applyUpdate(writer!, u)
    await turn()
    expect(reader!.broadcasts).toHaveLength(1)
    expect(reader!.broadcasts[0]).toHaveLength(5)
    expect(reader!.text()).toBe('bbbbb')
  })

  it('with several senders in one turn, each gets only the others\' updates and onlookers get all', async () => {
    const r = room()
    const [a, b, onlooker] = members(r, 3)
    const fromA = edits(3, 'a')
    const fromB = edits(2, 'b')
    r.applyUpdate(a!, fromA[0]!)
    r.applyUpdate(b!, fromB[0]!)
    r.applyUpdate(a!, fromA[1]!)
    r.applyUpdate(b!, fromB[1]!)
    r.applyUpdate(a!, fromA[2]!)
    await turn()
    expect(a!.broadcasts.flat()).toEqual(fromB)
    expect(b!.broadcasts.flat()).toEqual(fromA)
    const all = onlooker!.text()
    expect(all).toHaveLength(5)
    expect(all).toBe(r.doc.getText('t').toString())
  })

  it('bounds a batch: past 256 updates in one turn the outbox goes out at once', async () => {
    const r = room()
    const [writer, reader] = members(r, 2)
    const updates = edits(300, 'c')
    for (const u of updates.slice(0, 256)) r.applyUpdate(writer!, u)
    expect(reader!.broadcasts).toHaveLength(1)
    for (const u of updates.slice(256)) r.applyUpdate(writer!, u)
    await turn()
    expect(reader!.broadcasts.map((b) => b.length)).toEqual([256, 44])
    expect(reader!.text()).toBe('c'.repeat(300))
  })

  it('with a broadcast window, a busy room waits out the window and relays once', async () => {
    const r = room(400)
    const [writer, reader] = members(r, 2)
    const updates = edits(3, 'd')
    r.applyUpdate(writer!, updates[0]!)
    await turn()
    expect(reader!.broadcasts).toHaveLength(1) // the first update after a quiet spell goes at once
    r.applyUpdate(writer!, updates[1]!)
    await turn()
    r.applyUpdate(writer!, updates[2]!)
    await turn()
    expect(reader!.broadcasts).toHaveLength(1) // inside the window: held
    await sleep(500)
    expect(reader!.broadcasts).toHaveLength(2)
    expect(reader!.broadcasts[1]).toHaveLength(2)
  })

  it('keeps awareness in order with the edits around it, and echoes it to its sender', async () => {
    const r = room()
    const [a, b] = members(r, 2)
    const [first, second] = edits(2, 'g')
    r.applyUpdate(a!, first!)
    r.applyAwareness(a!, awarenessUpdate(1234, 1, '{"cursor":1}'))
    r.applyUpdate(a!, second!)
    await turn()
    expect(b!.kinds).toEqual(['update', 'awareness', 'update'])
    expect(a!.kinds).toEqual(['awareness'])
  })

  it('a window timer is not cut short by a flush that filled the outbox earlier in the turn', async () => {
    const r = room(400)
    const [writer, reader] = members(r, 2)
    const updates = edits(300, 'h')
    for (const u of updates.slice(0, 256)) r.applyUpdate(writer!, u) // full: out at once
    r.applyUpdate(writer!, updates[256]!) // inside the window now
    await turn()
    expect(reader!.broadcasts).toHaveLength(1)
    await sleep(500)
    expect(reader!.broadcasts).toHaveLength(2)
  })

  it('drops the outbox of a destroyed room without sending', async () => {
    const r = room()
    const [writer, reader] = members(r, 2)
    r.applyUpdate(writer!, edits(1, 'e')[0]!)
    r.destroy()
    rooms.length = 0
    await turn()
    expect(reader!.broadcasts).toHaveLength(0)
  })

  it('acknowledges a run of one member\'s updates once durable', async () => {
    const r = room()
    const [writer] = members(r, 2)
    for (const u of edits(20, 'f')) r.applyUpdate(writer!, u)
    await r.whenDurable()
    expect(writer!.acks).toBe(20)
  })
})

describe('a room\'s members', () => {
  it('leaves the document untouched and blames only the sender for an update Yjs refuses outright', async () => {
    const r = room()
    const [a, b] = members(r, 2)
    r.applyUpdate(a!, edits(1, 'x')[0]!)
    expect(() => r.applyUpdate(b!, new Uint8Array([1, 2, 3, 4, 5]))).toThrow(InvalidUpdateError)
    expect(r.failed).toBe(false)
    expect(a!.evictedWith).toBeNull()
    expect(r.doc.getText('t').toString()).toBe('x')
  })

  it('resets every other member, and fails the room unwritten, when an update gets half-way', async () => {
    const r = room()
    const [culprit, other] = members(r, 2)
    let threw: unknown = null
    try {
      r.applyUpdate(culprit!, halfApplying())
    } catch (err) {
      threw = err
    }
    expect(threw).toBeInstanceOf(InvalidUpdateError)
    expect(r.failed).toBe(true)
    expect(failures).toHaveLength(1)
    expect(other!.evictedWith).toBe(CloseCode.resetConnection)
    expect(culprit!.evictedWith).toBeNull() // its connection closes with the error instead
    await turn()
    expect(other!.broadcasts).toHaveLength(0) // nothing of the failed update was relayed
  })

  it('sends a new member the presence already there, and tells the others when a member leaves', async () => {
    const r = room()
    const [a] = members(r, 1)
    r.applyAwareness(a!, awarenessUpdate(1, 1, '{"user":"Ann"}'))
    const b = new RecordingMember('late')
    const sentOnJoin: Uint8Array[] = []
    b.sendMessage = (body: Uint8Array) => { sentOnJoin.push(body) }
    r.join(b)
    expect(sentOnJoin.map((body) => body[0])).toEqual([1]) // one awareness message: Ann
    r.applyAwareness(b, awarenessUpdate(2, 1, '{"user":"Bob"}'))
    await turn()
    a!.kinds.length = 0
    r.leave(b)
    await turn()
    expect(a!.kinds).toEqual(['awareness']) // Bob's removal
    expect(r.awareness.presentCount).toBe(1)
  })
})
