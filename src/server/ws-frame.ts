/**
 * WebSocket framing for what the server sends (RFC 6455 section 5.2; server frames are not
 * masked): FIN + binary opcode, the payload length in 7, 16 or 64 bits, then the payload.
 *
 * Why frame ourselves: a broadcast goes to many sockets with the same bytes. Framed once here,
 * each member costs one socket.write of a shared buffer; ws.send would build a new header, keep
 * a callback and cork/uncork the socket for every member (about 3 µs each, a third of a
 * delivery). ws still owns the connection: it reads, answers pings and does the close handshake,
 * and since we never ask it to compress or send Blobs it writes synchronously, so frames written
 * here and frames ws writes stay in order.
 */

/** Frames `payload`, optionally preceded by `prefix` (a Hocuspocus address), in one allocation. */
export function binaryFrame (payload: Uint8Array, prefix: Uint8Array | null = null): Buffer {
  const prefixLength = prefix === null ? 0 : prefix.length
  const length = prefixLength + payload.length
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = 0x82 // FIN, opcode 2 (binary)
  if (length < 126) {
    frame[1] = length
  } else if (length < 65_536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  if (prefix !== null) frame.set(prefix, headerLength)
  frame.set(payload, headerLength + prefixLength)
  return frame
}

/** `count` copies of `frame` back to back, for several messages in one write. */
export function repeatFrame (frame: Uint8Array, count: number): Uint8Array {
  if (count === 1) return frame
  const out = Buffer.allocUnsafe(frame.length * count)
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length)
  return out
}
