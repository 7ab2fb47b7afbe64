/**
 * When an outbox goes out (documents/relay.ts): at the end of the turn it filled in, one
 * setImmediate for every room; at once past its bounds; within a window at most once per window;
 * never after it is stopped; and a delivery that throws is reported, not lost silently.
 */
import { describe, expect, it } from 'vitest'
import type { Broadcast } from '../../src/documents/broadcast.js'
import { EndOfTurn, RelayScheduler } from '../../src/documents/relay.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

class Recipient {
  readonly received: Broadcast[] = []
  sendBroadcast (b: Broadcast): void { this.received.push(b) }
}

const update = (n: number): Uint8Array => new Uint8Array([n])

function scheduler (windowMs = 0, turns = new EndOfTurn()): { relay: RelayScheduler<Recipient>, members: Set<Recipient>, failures: Error[], turns: EndOfTurn } {
  const members = new Set<Recipient>()
  const failures: Error[] = []
  const relay = new RelayScheduler<Recipient>(turns, members, { broadcastWindowMs: windowMs }, (err) => { failures.push(err) })
  return { relay, members, failures, turns }
}

describe('relay scheduler', () => {
  it('sends nothing within the turn and everything at its end, for every room in one go', async () => {
    const turns = new EndOfTurn()
    const one = scheduler(0, turns)
    const two = scheduler(0, turns)
    const [r1, r2] = [new Recipient(), new Recipient()]
    one.members.add(r1)
    two.members.add(r2)
    const origin = {}
    one.relay.relay(origin, update(1))
    one.relay.relay(origin, update(2))
    two.relay.relay(origin, update(3))
    expect(r1.received.length + r2.received.length).toBe(0)
    await turn()
    expect(r1.received).toHaveLength(1)
    expect(r1.received[0]!.bodies).toHaveLength(2)
    expect(r2.received).toHaveLength(1)
  })

  it('tells nobody when the only member is the sender, or there is none', async () => {
    const { relay, members } = scheduler()
    relay.relay({}, update(1)) // no members
    const sender = new Recipient()
    members.add(sender)
    relay.relay(sender, update(2))
    await turn()
    expect(sender.received).toHaveLength(0)
  })

  it('goes out at once past 256 updates', async () => {
    const { relay, members } = scheduler()
    const r = new Recipient()
    members.add(r)
    for (let i = 0; i < 256; i++) relay.relay({}, update(i))
    expect(r.received).toHaveLength(1)
    relay.relay({}, update(0))
    await turn()
    expect(r.received).toHaveLength(2)
  })

  it('goes out at once past 1 MiB', () => {
    const { relay, members } = scheduler()
    const r = new Recipient()
    members.add(r)
    relay.relay({}, new Uint8Array(600 * 1024))
    expect(r.received).toHaveLength(0)
    relay.relay({}, new Uint8Array(600 * 1024))
    expect(r.received).toHaveLength(1)
  })

  it('with a window, relays a quiet room at the end of the turn and a busy one once per window', async () => {
    const { relay, members } = scheduler(300)
    const r = new Recipient()
    members.add(r)
    relay.relay({}, update(1))
    await turn()
    expect(r.received).toHaveLength(1)
    relay.relay({}, update(2))
    await turn()
    relay.relay({}, update(3))
    await turn()
    expect(r.received).toHaveLength(1)
    await sleep(400)
    expect(r.received).toHaveLength(2)
    expect(r.received[1]!.bodies).toHaveLength(2)
  })

  it('relays nothing once stopped, whatever was waiting', async () => {
    const { relay, members } = scheduler()
    const r = new Recipient()
    members.add(r)
    relay.relay({}, update(1))
    relay.stop()
    relay.relay({}, update(2))
    relay.relayToEveryone(new Uint8Array([1, 0]))
    await turn()
    expect(r.received).toHaveLength(0)
  })

  it('reports a delivery that throws, and drops that outbox', async () => {
    const { relay, members, failures } = scheduler()
    members.add({ sendBroadcast: () => { throw new Error('socket gone wrong') } } as unknown as Recipient)
    relay.relay({}, update(1))
    await turn()
    expect(failures.map((e) => e.message)).toEqual(['socket gone wrong'])
    relay.flush()
    expect(failures).toHaveLength(1) // nothing left to send
  })
})
