/**
 * The instance wire format: what collabd instances say to each other over Redis pub/sub
 * (REDIS_URL). Not to be confused with protocol/messages.ts, the message bodies clients send.
 * The byte grammar, the channels and what each message means are in protocol/PROTOCOL.md,
 * "Between instances". Decoding is strict: anything else on collabd's channels (another app
 * sharing Redis, a bug) throws a ProtocolError and is dropped by the receiver.
 */
import { Reader, encodeParts, type Part } from '../protocol/binary.js'
import { ProtocolError } from '../errors.js'

export const InstanceMessageType = {
  update: 1,
  committed: 2,
  awareness: 3,
  syncRequest: 4,
  syncReply: 5,
  heartbeat: 6,
  bye: 7,
  stateless: 8,
  rejoined: 9,
} as const

export type InstanceMessage =
  | { type: typeof InstanceMessageType.update, from: string, epoch: number, seq: number, update: Uint8Array }
  | { type: typeof InstanceMessageType.committed, from: string, epoch: number, seq: number }
  | { type: typeof InstanceMessageType.awareness, from: string, update: Uint8Array }
  | { type: typeof InstanceMessageType.syncRequest, from: string, stateVector: Uint8Array, awareness: Uint8Array }
  | { type: typeof InstanceMessageType.syncReply, from: string, document: string, update: Uint8Array, stateVector: Uint8Array, awareness: Uint8Array }
  | { type: typeof InstanceMessageType.stateless, from: string, payload: string }
  | { type: typeof InstanceMessageType.heartbeat | typeof InstanceMessageType.bye | typeof InstanceMessageType.rejoined, from: string }

export const NONE = new Uint8Array(0)

/** Encodes this instance's messages; the type and sender prefix of each type is built once. */
export class InstanceMessageEncoder {
  private readonly prefixes = new Map<number, Uint8Array>()

  constructor (private readonly instanceId: string) {}

  encode (type: number, ...parts: Part[]): Buffer {
    let prefix = this.prefixes.get(type)
    if (prefix === undefined) this.prefixes.set(type, prefix = encodeParts(null, type, this.instanceId))
    const bytes = encodeParts(prefix, ...parts)
    // ioredis takes Buffers as binary; any other Uint8Array would be sent as text.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
}

/** @throws {ProtocolError} when malformed or of an unknown type. */
export function decodeInstanceMessage (bytes: Uint8Array): InstanceMessage {
  const r = new Reader(bytes)
  const type = r.varUint()
  const from = r.varString()
  let message: InstanceMessage
  switch (type) {
    case InstanceMessageType.update:
      message = { type, from, epoch: r.varUint(), seq: r.varUint(), update: r.varBytes() }
      break
    case InstanceMessageType.committed:
      message = { type, from, epoch: r.varUint(), seq: r.varUint() }
      break
    case InstanceMessageType.awareness:
      message = { type, from, update: r.varBytes() }
      break
    case InstanceMessageType.syncRequest:
      message = { type, from, stateVector: r.varBytes(), awareness: r.varBytes() }
      break
    case InstanceMessageType.syncReply:
      message = { type, from, document: r.varString(), update: r.varBytes(), stateVector: r.varBytes(), awareness: r.varBytes() }
      break
    case InstanceMessageType.stateless:
      message = { type, from, payload: r.varString() }
      break
    case InstanceMessageType.heartbeat:
    case InstanceMessageType.bye:
    case InstanceMessageType.rejoined:
      message = { type, from }
      break
    default:
      throw new ProtocolError(`unknown instance message type ${type}`)
  }
  if (r.remaining !== 0) throw new ProtocolError(`${r.remaining} bytes after an instance message of type ${type}`)
  return message
}
