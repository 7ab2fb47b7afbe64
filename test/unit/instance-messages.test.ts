/**
 * The instance wire format (scaling/instance-messages.ts): every type round-trips, and anything
 * malformed is a ProtocolError, never anything else (the receiver drops it and carries on).
 */
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../src/errors.js'
import { decodeInstanceMessage, InstanceMessageType, NONE, InstanceMessageEncoder } from '../../src/scaling/instance-messages.js'
import { prng } from '../helpers/wait.js'

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b)

describe('instance messages', () => {
  const enc = new InstanceMessageEncoder('inst-1')

  it('round-trips every type', () => {
    // Decoded byte fields are views into the message: compare them as plain Uint8Arrays.
    const decode = (b: Buffer): unknown => decodeInstanceMessage(new Uint8Array(b))
    expect(decode(enc.encode(InstanceMessageType.update, 3, 42, bytes(1, 2, 3)))).toEqual({ type: InstanceMessageType.update, from: 'inst-1', epoch: 3, seq: 42, update: bytes(1, 2, 3) })
    expect(decode(enc.encode(InstanceMessageType.committed, 3, 2 ** 40))).toEqual({ type: InstanceMessageType.committed, from: 'inst-1', epoch: 3, seq: 2 ** 40 })
    expect(decode(enc.encode(InstanceMessageType.awareness, bytes(9)))).toEqual({ type: InstanceMessageType.awareness, from: 'inst-1', update: bytes(9) })
    expect(decode(enc.encode(InstanceMessageType.syncRequest, bytes(0), NONE))).toEqual({ type: InstanceMessageType.syncRequest, from: 'inst-1', stateVector: bytes(0), awareness: NONE })
    expect(decode(enc.encode(InstanceMessageType.syncReply, 'a/doc ✓', bytes(0, 0), NONE, bytes(7)))).toEqual({ type: InstanceMessageType.syncReply, from: 'inst-1', document: 'a/doc ✓', update: bytes(0, 0), stateVector: NONE, awareness: bytes(7) })
    expect(decode(enc.encode(InstanceMessageType.stateless, '{"saved":true}'))).toEqual({ type: InstanceMessageType.stateless, from: 'inst-1', payload: '{"saved":true}' })
    expect(decode(enc.encode(InstanceMessageType.bye))).toEqual({ type: InstanceMessageType.bye, from: 'inst-1' })
    expect(decode(enc.encode(InstanceMessageType.rejoined))).toEqual({ type: InstanceMessageType.rejoined, from: 'inst-1' })
  })

  it('gives a ProtocolError, and only that, for anything malformed', () => {
    const random = prng(7)
    const valid = [
      enc.encode(InstanceMessageType.update, 1, 1, bytes(1, 2, 3)),
      enc.encode(InstanceMessageType.syncReply, 'doc', bytes(0, 0), bytes(0), bytes(1, 2)),
      enc.encode(InstanceMessageType.heartbeat),
    ]
    let errors = 0
    for (let i = 0; i < 20_000; i++) {
      const base = valid[i % valid.length]!
      const frame = random() < 0.5 ? Uint8Array.from(base) : new Uint8Array(Math.floor(random() * 12))
      const flips = 1 + Math.floor(random() * 3)
      for (let f = 0; f < flips && frame.length > 0; f++) frame[Math.floor(random() * frame.length)] = Math.floor(random() * 256)
      const cut = random() < 0.3 ? frame.subarray(0, Math.floor(random() * frame.length)) : frame
      try {
        decodeInstanceMessage(cut)
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
        errors++
      }
    }
    expect(errors).toBeGreaterThan(5000)
    expect(() => decodeInstanceMessage(Buffer.concat([enc.encode(InstanceMessageType.heartbeat), bytes(0)]))).toThrow(/bytes after/)
    expect(() => decodeInstanceMessage(enc.encode(99))).toThrow(/unknown instance message type 99/)
  })
})
