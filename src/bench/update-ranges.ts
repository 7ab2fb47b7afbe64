/**
 * The clock ranges an update covers, per client, read from its header and struct lengths alone.
 *
 * Y.parseUpdateMeta gives the same answer but decodes every struct's content (strings and all)
 * on the way; with 500 readers in one benchmark process that decoding became the bottleneck of
 * the benchmark itself, so the measured "time until every reader has everything" was mostly the
 * benchmark's own CPU. This reader skips content it does not need and falls back to
 * Y.parseUpdateMeta for the content kinds whose length needs a full decode (ContentAny, ContentDoc).
 *
 * Update V1 layout (yjs encoding.js, UpdateEncoderV1):
 *   clients:varUint, per client: structs:varUint client:varUint clock:varUint, then each struct:
 *     info:uint8; GC (ref 0) and Skip (ref 10): length:varUint;
 *     Item: [origin id if info&0x80] [right origin id if info&0x40]
 *           [if neither: parentIsKey:varUint, then key:varString or parent id;
 *            parentSub:varString if info&0x20] content by ref (info&0x1f)
 *   then the delete set, which carries no new clocks.
 */
import * as Y from 'yjs'

/** First clock and end clock (exclusive) of each client in an update. */
export interface UpdateRanges {
  readonly from: Map<number, number>
  readonly to: Map<number, number>
}

class Cursor {
  pos = 0
  constructor (readonly bytes: Uint8Array) {}

  varUint (): number {
    let n = 0
    let mult = 1
    for (;;) {
      const b = this.bytes[this.pos++]
      if (b === undefined) throw new RangeError('unexpected end of update')
      n += (b & 0x7f) * mult
      if (b < 0x80) return n
      mult *= 128
      if (mult > 2 ** 53) throw new RangeError('varUint too long')
    }
  }

  /** Skips a varString. @returns its length in UTF-16 code units (Y.Text's unit of length). */
  varString (): number {
    const length = this.varUint()
    const end = this.pos + length
    if (end > this.bytes.length) throw new RangeError('unexpected end of update')
    let units = 0
    for (let i = this.pos; i < end; i++) {
      const b = this.bytes[i]!
      if ((b & 0xc0) !== 0x80) units += b >= 0xf0 ? 2 : 1
    }
    this.pos = end
    return units
  }

  skipBytes (): void {
    const length = this.varUint()
    this.pos += length
    if (this.pos > this.bytes.length) throw new RangeError('unexpected end of update')
  }
}

class NeedsFullDecode extends Error {}

/** Length (in clocks) of the content with `ref`, leaving the cursor after it. */
function contentLength (c: Cursor, ref: number): number {
  switch (ref) {
    case 1: return c.varUint() // deleted
    case 2: { // JSON: n strings
      const n = c.varUint()
      for (let i = 0; i < n; i++) c.varString()
      return n
    }
    case 3: c.skipBytes(); return 1 // binary
    case 4: return c.varString() // string
    case 5: c.varString(); return 1 // embed (JSON text)
    case 6: c.varString(); c.varString(); return 1 // format: key, JSON value
    case 7: { // type, with a name for XmlElement (3) and XmlHook (5)
      const typeRef = c.varUint()
      if (typeRef === 3 || typeRef === 5) c.varString()
      return 1
    }
    default: throw new NeedsFullDecode()
  }
}

/** The clock ranges `update` covers. @throws when it is not a valid update. */
export function updateRanges (update: Uint8Array): UpdateRanges {
  try {
    return readRanges(update)
  } catch (err) {
    if (err instanceof NeedsFullDecode) return Y.parseUpdateMeta(update)
    throw err
  }
}

function readRanges (update: Uint8Array): UpdateRanges {
  const c = new Cursor(update)
  const from = new Map<number, number>()
  const to = new Map<number, number>()
  const clients = c.varUint()
  for (let i = 0; i < clients; i++) {
    const structs = c.varUint()
    const client = c.varUint()
    let clock = c.varUint()
    let end = -1
    for (let s = 0; s < structs; s++) {
      const info = c.bytes[c.pos++]
      if (info === undefined) throw new RangeError('unexpected end of update')
      const ref = info & 0x1f
      let length: number
      if (ref === 0 || ref === 10) {
        length = c.varUint()
        if (ref === 0) end = clock + length // GC counts, Skip does not
      } else {
        if ((info & 0x80) !== 0) { c.varUint(); c.varUint() }
        if ((info & 0x40) !== 0) { c.varUint(); c.varUint() }
        if ((info & 0xc0) === 0) {
          if (c.varUint() === 1) c.varString()
          else { c.varUint(); c.varUint() }
          if ((info & 0x20) !== 0) c.varString()
        }
        length = contentLength(c, ref)
        end = clock + length
      }
      if (s === 0) from.set(client, clock)
      clock += length
    }
    if (end >= 0) to.set(client, end)
  }
  return { from, to }
}
