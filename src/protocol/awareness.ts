/**
 * The y-protocols awareness update format, decoded without a Y.Doc or an Awareness instance:
 *
 *   update := count:varUint (clientId:varUint clock:varUint state:varString)*count
 *
 * `state` is JSON text; the text `null` means the client left. The server keeps states as
 * text and never interprets them, but it does check that each one parses: every stock client
 * runs JSON.parse on what it receives, and one bad state would break awareness for everyone
 * in the document.
 */
import { ProtocolError } from '../errors.js'
import { Reader, varUintSize, writeVarUint, writeVarBytes, encodeUtf8 } from './binary.js'

export interface AwarenessEntry {
  readonly clientId: number
  readonly clock: number
  /** JSON text of the state; `'null'` when the client is gone. */
  readonly state: string
}

export const REMOVED_STATE = 'null'

/** @throws {ProtocolError} when malformed or when a state is not valid JSON. */
export function decodeAwarenessUpdate (update: Uint8Array): AwarenessEntry[] {
  const r = new Reader(update)
  const count = r.varUint()
  // Each entry takes at least 3 bytes; refuse counts the message cannot hold before allocating.
  if (count > r.remaining / 3) throw new ProtocolError(`awareness update claims ${count} entries in ${r.remaining} bytes`)
  const entries: AwarenessEntry[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const clientId = r.varUint()
    const clock = r.varUint()
    const state = r.varString()
    if (state !== REMOVED_STATE) {
      try {
        JSON.parse(state)
      } catch (cause) {
        throw new ProtocolError('awareness state is not valid JSON', { cause })
      }
    }
    entries[i] = { clientId, clock, state }
  }
  return entries
}

export function encodeAwarenessUpdate (entries: readonly AwarenessEntry[]): Uint8Array {
  const texts = entries.map((e) => encodeUtf8(e.state))
  let size = varUintSize(entries.length)
  entries.forEach((e, i) => {
    size += varUintSize(e.clientId) + varUintSize(e.clock) + varUintSize(texts[i]!.length) + texts[i]!.length
  })
  const out = new Uint8Array(size)
  let pos = writeVarUint(out, 0, entries.length)
  entries.forEach((e, i) => {
    pos = writeVarUint(out, pos, e.clientId)
    pos = writeVarUint(out, pos, e.clock)
    pos = writeVarBytes(out, pos, texts[i]!)
  })
  return out
}
