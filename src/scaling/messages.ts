/**
 * What instances say to each other over Redis. Every message is binary:
 *
 *   message := type:varUint instanceId:varString body
 *
 *   UPDATE        epoch:varUint seq:varUint update:varBytes      on the document's channel
 *   COMMITTED     epoch:varUint seq:varUint                      on the document's channel
 *   AWARENESS     update:varBytes                                on the document's channel
 *   SYNC_REQUEST  stateVector:varBytes awareness:varBytes        on the document's channel
 *   SYNC_REPLY    document:varString update:varBytes
 *                 stateVector:varBytes awareness:varBytes        on the asker's own channel
 *   STATELESS     payload:varString                              on the document's channel
 *   HEARTBEAT, BYE, REJOINED                                     on the instances channel
 *
 * `epoch` tells one load of a room on the sender from another (its sequence numbers restart).
 * An empty `awareness` means none; an empty `stateVector` in a reply means "send nothing back".
 * REJOINED: the sender was cut off from Redis and is back; what it wrote meanwhile was never
 * published, so the others read their loaded documents from the store again.
 */
import { Reader, encodeParts, type Part } from '../protocol/binary.js'
import { ProtocolError } from '../errors.js'

export const MessageType = {
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

export type PeerMessage =
  | { type: typeof MessageType.update, from: string, epoch: number, seq: number, update: Uint8Array }
  | { type: typeof MessageType.committed, from: string, epoch: number, seq: number }
  | { type: typeof MessageType.awareness, from: string, update: Uint8Array }
  | { type: typeof MessageType.syncRequest, from: string, stateVector: Uint8Array, awareness: Uint8Array }
  | { type: typeof MessageType.syncReply, from: string, document: string, update: Uint8Array, stateVector: Uint8Array, awareness: Uint8Array }
  | { type: typeof MessageType.stateless, from: string, payload: string }
  | { type: typeof MessageType.heartbeat | typeof MessageType.bye | typeof MessageType.rejoined, from: string }

export const NONE = new Uint8Array(0)

/** Encodes this instance's messages; the type and sender prefix of each type is built once. */
export class PeerEncoder {
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
export function decodePeerMessage (bytes: Uint8Array): PeerMessage {
  const r = new Reader(bytes)
  const type = r.varUint()
  const from = r.varString()
  let message: PeerMessage
  switch (type) {
    case MessageType.update:
      message = { type, from, epoch: r.varUint(), seq: r.varUint(), update: r.varBytes() }
      break
    case MessageType.committed:
      message = { type, from, epoch: r.varUint(), seq: r.varUint() }
      break
    case MessageType.awareness:
      message = { type, from, update: r.varBytes() }
      break
    case MessageType.syncRequest:
      message = { type, from, stateVector: r.varBytes(), awareness: r.varBytes() }
      break
    case MessageType.syncReply:
      message = { type, from, document: r.varString(), update: r.varBytes(), stateVector: r.varBytes(), awareness: r.varBytes() }
      break
    case MessageType.stateless:
      message = { type, from, payload: r.varString() }
      break
    case MessageType.heartbeat:
    case MessageType.bye:
    case MessageType.rejoined:
      message = { type, from }
      break
    default:
      throw new ProtocolError(`unknown instance message type ${type}`)
  }
  if (r.remaining !== 0) throw new ProtocolError(`${r.remaining} bytes after an instance message of type ${type}`)
  return message
}
