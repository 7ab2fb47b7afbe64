/**
 * WebSocket framing for what the server sends (RFC 6455 section 5.2; server frames are not
 * masked): FIN + binary opcode, the payload length in 7, 16 or 64 bits, then the payload.
 *
 * Why frame ourselves: a broadcast goes to many sockets with the same bytes. Framed once here,
 * each member costs one socket.write of a shared buffer; ws.send would build a new header, keep
 * a callback and cork/uncork the socket for every member (about 3 µs each, a third of a
 * delivery). Several messages for one socket go out as consecutive frames in one write. ws still
 * owns the connection: it reads, answers pings and does the close handshake, and since we never
 * ask it to compress (perMessageDeflate is off) or send Blobs it writes synchronously, so frames
 * written here and frames ws writes stay in order.
 */

const headerLength = (length: number): number => (length < 126 ? 2 : length < 65_536 ? 4 : 10)

function writeHeader (frame: Buffer, offset: number, length: number): number {
  frame[offset] = 0x82 // FIN, opcode 2 (binary)
  if (length < 126) {
    frame[offset + 1] = length
    return offset + 2
  }
  if (length < 65_536) {
    frame[offset + 1] = 126
    frame.writeUInt16BE(length, offset + 2)
    return offset + 4
  }
  frame[offset + 1] = 127
  frame.writeUInt32BE(Math.floor(length / 2 ** 32), offset + 2)
  frame.writeUInt32BE(length >>> 0, offset + 6)
  return offset + 10
}

/** Frames `payload`, optionally preceded by `prefix` (a Hocuspocus address), in one allocation. */
export function binaryFrame (payload: Uint8Array, prefix: Uint8Array | null = null): Buffer {
  const prefixLength = prefix === null ? 0 : prefix.length
  const length = prefixLength + payload.length
  const frame = Buffer.allocUnsafe(headerLength(length) + length)
  const offset = writeHeader(frame, 0, length)
  if (prefix !== null) frame.set(prefix, offset)
  frame.set(payload, offset + prefixLength)
  return frame
}

/** One frame per payload, each preceded by `prefix` when given, back to back in one buffer. */
export function binaryFrames (payloads: readonly Uint8Array[], prefix: Uint8Array | null = null): Buffer {
  const prefixLength = prefix === null ? 0 : prefix.length
  let total = 0
  for (const p of payloads) total += headerLength(prefixLength + p.length) + prefixLength + p.length
  const out = Buffer.allocUnsafe(total)
  let offset = 0
  for (const p of payloads) {
    offset = writeHeader(out, offset, prefixLength + p.length)
    if (prefix !== null) {
      out.set(prefix, offset)
      offset += prefixLength
    }
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** `count` copies of `frame` back to back, for several messages in one write. */
export function repeatFrame (frame: Uint8Array, count: number): Uint8Array {
  if (count === 1) return frame
  const out = Buffer.allocUnsafe(frame.length * count)
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length)
  return out
}
