/**
 * Bounds-checked reading and exact-size writing of the lib0 primitives both wire formats use
 * (varUint, varInt, length-prefixed bytes and UTF-8 strings).
 *
 * Why not lib0/decoding directly: `readVarUint8Array` builds its view from the underlying
 * ArrayBuffer without checking the frame's own length, and ws hands us frames that are views
 * into larger socket buffers. A length prefix larger than the frame would then silently read
 * neighbouring bytes instead of failing. Every read here checks against the frame.
 */
import { ProtocolError } from '../errors.js'

/** Strings are kept byte-exact: a leading U+FEFF is part of the string, not a byte order mark to drop. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

export class Reader {
  pos = 0
  constructor (readonly bytes: Uint8Array) {}

  get remaining (): number {
    return this.bytes.length - this.pos
  }

  uint8 (): number {
    if (this.pos >= this.bytes.length) throw new ProtocolError('unexpected end of message')
    return this.bytes[this.pos++]!
  }

  /** lib0 varUint: 7 bits per byte, little-endian, at most 2^53 - 1. */
  varUint (): number {
    let num = 0
    let mult = 1
    const bytes = this.bytes
    while (this.pos < bytes.length) {
      const r = bytes[this.pos++]!
      num += (r & 0x7f) * mult
      // Above 2^53 - 1, n + 1 === n: an awareness clock could never advance again.
      if (num > Number.MAX_SAFE_INTEGER) throw new ProtocolError('varUint out of range')
      if (r < 0x80) return num
      mult *= 128
      if (mult > 2 ** 56) throw new ProtocolError('varUint out of range')
    }
    throw new ProtocolError('unexpected end of message inside a varUint')
  }

  /**
   * Length-prefixed bytes. Returns a view into the frame (no copy): the caller owns the frame,
   * so copy before keeping the result beyond the message's lifetime if memory matters.
   */
  varBytes (): Uint8Array {
    const len = this.varUint()
    if (len > this.bytes.length - this.pos) {
      throw new ProtocolError(`length prefix ${len} exceeds the ${this.bytes.length - this.pos} bytes left in the message`)
    }
    const view = this.bytes.subarray(this.pos, this.pos + len)
    this.pos += len
    return view
  }

  /** Length-prefixed UTF-8; invalid UTF-8 is a protocol error, not a replacement character. */
  varString (): string {
    return decodeUtf8(this.varBytes(), 'string')
  }
}

/** Bytes a varUint takes. */
export function varUintSize (n: number): number {
  let size = 1
  while (n > 0x7f) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

/** Writes a varUint at `pos`; returns the position after it. */
export function writeVarUint (buf: Uint8Array, pos: number, n: number): number {
  while (n > 0x7f) {
    buf[pos++] = 0x80 | (n & 0x7f)
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}

/** Writes `bytes` with its varUint length prefix; returns the position after it. */
export function writeVarBytes (buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  pos = writeVarUint(buf, pos, bytes.length)
  buf.set(bytes, pos)
  return pos + bytes.length
}

export const encodeUtf8 = (s: string): Uint8Array => utf8Encoder.encode(s)

/**
 * UTF-8 to a string, byte-exact (a leading U+FEFF stays). @throws {ProtocolError} on invalid
 * UTF-8 (`what` names the field in the message).
 */
export function decodeUtf8 (bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes)
  } catch (cause) {
    throw new ProtocolError(`invalid UTF-8 in ${what}`, { cause })
  }
}

/** A varString as bytes (length prefix + UTF-8), e.g. a Hocuspocus address computed once per session. */
export function encodeVarString (s: string): Uint8Array {
  const text = utf8Encoder.encode(s)
  const out = new Uint8Array(varUintSize(text.length) + text.length)
  writeVarBytes(out, 0, text)
  return out
}

/**
 * Builds a message from parts: each part is a small non-negative integer (written as a varUint),
 * a string (written as a varString) or bytes (written as length-prefixed bytes). One exact-size
 * allocation per message.
 */
export type Part = number | string | Uint8Array

export function encodeParts (prefix: Uint8Array | null, ...parts: Part[]): Uint8Array {
  let size = prefix === null ? 0 : prefix.length
  const encoded: Array<number | Uint8Array> = parts.map((p) => (typeof p === 'string' ? utf8Encoder.encode(p) : p))
  for (const p of encoded) size += typeof p === 'number' ? varUintSize(p) : varUintSize(p.length) + p.length
  const out = new Uint8Array(size)
  let pos = 0
  if (prefix !== null) {
    out.set(prefix, 0)
    pos = prefix.length
  }
  for (const p of encoded) pos = typeof p === 'number' ? writeVarUint(out, pos, p) : writeVarBytes(out, pos, p)
  return out
}

/** Concatenates two byte arrays into one exact-size allocation. */
export function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
