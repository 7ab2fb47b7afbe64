/**
 * The decoders under seeded random and mutated input: each frame either decodes or throws a
 * ProtocolError. Any other exception (RangeError, TypeError) would mean a decoder read past the
 * frame or trusted a length it should not have.
 */
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../src/errors.js'
import { decodeAwarenessUpdate } from '../../src/protocol/awareness.js'
import * as hp from '../../src/protocol/hocuspocus.js'
import * as yws from '../../src/protocol/y-websocket.js'
import { fuzzFrame, mutate, validBodies } from '../helpers/fuzz.js'
import { prng } from '../helpers/wait.js'

const FRAMES = 20_000

function outcome (f: () => unknown): 'ok' | 'protocol-error' {
  try {
    f()
    return 'ok'
  } catch (err) {
    if (err instanceof ProtocolError) return 'protocol-error'
    throw err
  }
}

describe('decoder fuzz', () => {
  it.each([1, 2, 3])('y-websocket decoder, seed %i', (seed) => {
    const random = prng(seed)
    const bodies = validBodies(random)
    const counts = { ok: 0, 'protocol-error': 0 }
    for (let i = 0; i < FRAMES; i++) counts[outcome(() => yws.decode(fuzzFrame(random, bodies, null)))]++
    // Both outcomes must be well represented, or the fuzzer is not exploring.
    expect(counts.ok).toBeGreaterThan(FRAMES / 20)
    expect(counts['protocol-error']).toBeGreaterThan(FRAMES / 4)
  })

  it.each([1, 2, 3])('hocuspocus decoder, seed %i', (seed) => {
    const random = prng(seed)
    const bodies = validBodies(random)
    const counts = { ok: 0, 'protocol-error': 0 }
    for (let i = 0; i < FRAMES; i++) {
      counts[outcome(() => {
        const f = hp.decode(fuzzFrame(random, bodies, 'fuzz-doc'))
        if (f.kind === 'message') hp.addressToString(f.address)
      })]++
    }
    expect(counts.ok).toBeGreaterThan(FRAMES / 20)
    expect(counts['protocol-error']).toBeGreaterThan(FRAMES / 4)
  })

  it('awareness decoder', () => {
    const random = prng(7)
    const awareness = validBodies(random).find((b) => b[0] === 1)!.subarray(2)
    let ok = 0
    for (let i = 0; i < FRAMES; i++) if (outcome(() => decodeAwarenessUpdate(mutate(random, awareness))) === 'ok') ok++
    expect(ok).toBeGreaterThan(0)
  })
})
