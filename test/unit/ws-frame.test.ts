/**
 * collabd frames what it sends itself (server/ws-frame.ts); ws's own frame parser must read every
 * length form back exactly: 7-bit, 16-bit and 64-bit lengths, with and without an address prefix,
 * several frames in one buffer.
 */
import { describe, expect, it } from 'vitest'
import * as ws from 'ws'
import { binaryFrame, binaryFrames, repeatFrame } from '../../src/server/ws-frame.js'

/** ws's frame parser (exported at runtime, missing from @types/ws). */
interface FrameReceiver {
  on (event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void
  on (event: 'error', listener: (err: Error) => void): void
  write (chunk: Buffer): void
}
const { Receiver } = ws as unknown as { Receiver: new (options: { isServer: boolean, maxPayload: number }) => FrameReceiver }

/** Feeds `bytes` to a client-side ws Receiver. @returns the messages it emitted. */
function parse (bytes: Uint8Array): Buffer[] {
  const messages: Buffer[] = []
  const receiver = new Receiver({ isServer: false, maxPayload: 0 })
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    expect(isBinary).toBe(true)
    messages.push(data)
  })
  receiver.on('error', (err) => { throw err })
  receiver.write(Buffer.from(bytes))
  return messages
}

const payload = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff)

describe('WebSocket framing', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])('a %i-byte payload round-trips', (n) => {
    const p = payload(n)
    const [message] = parse(binaryFrame(p))
    expect(Buffer.compare(message!, Buffer.from(p))).toBe(0)
  })

  it('prefixes the address inside the payload length', () => {
    const prefix = Uint8Array.of(3, 100, 111, 99)
    const p = payload(124) // 128 with the prefix: needs the 16-bit length form
    const [message] = parse(binaryFrame(p, prefix))
    expect([...message!]).toEqual([...prefix, ...p])
  })

  it('writes several frames back to back, in order', () => {
    const payloads = [payload(3), payload(300), payload(70_000)]
    const messages = parse(binaryFrames(payloads))
    expect(messages.map((m) => m.length)).toEqual([3, 300, 70_000])
    expect(parse(repeatFrame(binaryFrame(payload(2)), 5))).toHaveLength(5)
  })
})
