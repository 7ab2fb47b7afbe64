/**
 * Seeded generators of valid, random and mutated frames for both protocols. The valid frames
 * come from a fuzz document with its own root type ("fuzz"), so a mutation that still applies
 * lands there, not in the content a test watches.
 */
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'

export type Random = () => number

const int = (random: Random, n: number): number => Math.floor(random() * n)

/** Message bodies as the clients write them (without any address). */
export function validBodies (random: Random): Uint8Array[] {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  const text = doc.getText('fuzz')
  for (let i = 0; i < 20; i++) {
    if (text.length > 0 && random() < 0.3) text.delete(int(random, text.length), 1)
    else text.insert(int(random, text.length + 1), String.fromCharCode(97 + int(random, 26)))
  }
  doc.getMap('fuzz-map').set('k', { nested: [1, 2, 3] })
  const awareness = new awarenessProtocol.Awareness(doc)
  awareness.setLocalState({ user: { name: 'fuzzer', color: '#f00' } })
  const bodies: Uint8Array[] = []
  const body = (f: (e: encoding.Encoder) => void): void => {
    const e = encoding.createEncoder()
    f(e)
    bodies.push(encoding.toUint8Array(e))
  }
  body((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc) })
  body((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep2(e, doc) })
  for (const u of updates) body((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, u) })
  body((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])) })
  body((e) => { encoding.writeVarUint(e, 3) })
  awareness.destroy()
  doc.destroy()
  return bodies
}

/** Flips, inserts, deletes, truncates or duplicates bytes; sometimes several times. */
export function mutate (random: Random, input: Uint8Array): Uint8Array {
  let bytes = Array.from(input)
  const rounds = 1 + int(random, 3)
  for (let r = 0; r < rounds; r++) {
    const at = int(random, bytes.length + 1)
    switch (int(random, 6)) {
      case 0: if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = int(random, 256); break
      case 1: bytes.splice(at, 0, int(random, 256)); break
      case 2: bytes.splice(at, 1 + int(random, 4)); break
      case 3: bytes = bytes.slice(0, at); break
      case 4: bytes.splice(at, 0, ...bytes.slice(int(random, bytes.length), int(random, bytes.length))); break
      case 5: if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)]! ^= 1 << int(random, 8); break
    }
  }
  return Uint8Array.from(bytes)
}

export function randomBytes (random: Random, maxLength = 64): Uint8Array {
  return Uint8Array.from({ length: int(random, maxLength) }, () => int(random, 256))
}

export function withAddress (address: string, body: Uint8Array): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarString(e, address)
  encoding.writeUint8Array(e, body)
  return encoding.toUint8Array(e)
}

export function tokenFrame (address: string): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarString(e, address)
  encoding.writeVarUint(e, 2)
  encoding.writeVarUint(e, 0)
  encoding.writeVarString(e, 'fuzz-token')
  encoding.writeVarString(e, '4.8.0')
  return encoding.toUint8Array(e)
}

/** One fuzz frame: a third random bytes, the rest mutations of valid frames (sometimes left valid). */
export function fuzzFrame (random: Random, bodies: Uint8Array[], address: string | null): Uint8Array {
  if (random() < 0.33) return randomBytes(random)
  const body = bodies[int(random, bodies.length)]!
  const frame = address === null ? body : withAddress(address, body)
  return random() < 0.1 ? frame : mutate(random, frame)
}
