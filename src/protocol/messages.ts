/**
 * The message bodies both wire formats share. A y-websocket frame is exactly one body; a
 * Hocuspocus frame is `varString(address)` followed by one body. So a broadcast encodes the
 * body once and every member sends either it or `address + body`.
 *
 *   body      := messageType:varUint payload
 *   Sync (0)  := syncType:varUint (stateVector | update):varBytes   syncType 0 step 1, 1 step 2, 2 update
 *   Awareness (1) := awarenessUpdate:varBytes
 *   QueryAwareness (3) := (empty)
 *
 * See PROTOCOL.md for the full grammar.
 */
import { ProtocolError, CloseCode } from '../errors.js'
import { varUintSize, writeVarBytes, type Reader } from './binary.js'

/** Top-level message types. y-websocket uses 0-3; Hocuspocus all of them. */
export const MessageType = {
  sync: 0,
  awareness: 1,
  auth: 2,
  queryAwareness: 3,
  /** Hocuspocus: like sync, but the receiver does not answer step 1 with its own step 1. */
  syncReply: 4,
  stateless: 5,
  /** Hocuspocus server-to-server only; a client sending it is a protocol error. */
  broadcastStateless: 6,
  close: 7,
  syncStatus: 8,
  ping: 9,
  pong: 10,
} as const

/** A Yjs update with no structs and no deletions (the V1 encoding of "nothing": two zero bytes). */
export const isEmptyUpdate = (u: Uint8Array): boolean => u.length === 2 && u[0] === 0 && u[1] === 0

export const SyncType = {
  step1: 0,
  step2: 1,
  update: 2,
} as const

export type SyncMessage =
  | { readonly kind: 'sync-step-1', readonly stateVector: Uint8Array }
  | { readonly kind: 'sync-step-2', readonly update: Uint8Array }
  | { readonly kind: 'update', readonly update: Uint8Array }

export type AwarenessMessage = { readonly kind: 'awareness', readonly update: Uint8Array }
export type QueryAwarenessMessage = { readonly kind: 'query-awareness' }

/** Reads a sync sub-message (after the top-level type). Payloads are views into the frame. */
export function readSyncMessage (r: Reader): SyncMessage {
  const syncType = r.varUint()
  switch (syncType) {
    case SyncType.step1: return { kind: 'sync-step-1', stateVector: r.varBytes() }
    case SyncType.step2: return { kind: 'sync-step-2', update: r.varBytes() }
    case SyncType.update: return { kind: 'update', update: r.varBytes() }
    default: throw new ProtocolError(`unknown sync message type ${syncType}`, { closeCode: CloseCode.unsupportedData, publicReason: 'unsupported message type' })
  }
}

export const unknownType = (type: number): ProtocolError =>
  new ProtocolError(`unknown message type ${type}`, { closeCode: CloseCode.unsupportedData, publicReason: 'unsupported message type' })

// Body encoders: one exact-size allocation each, no intermediate arrays (they run once per
// broadcast). Message and sync types are below 128, so each takes one byte.

function typedBytes (types: number, type: number, subtype: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(types + varUintSize(payload.length) + payload.length)
  out[0] = type
  if (types === 2) out[1] = subtype
  writeVarBytes(out, types, payload)
  return out
}

export const syncStep1Body = (stateVector: Uint8Array): Uint8Array =>
  typedBytes(2, MessageType.sync, SyncType.step1, stateVector)

export const syncStep2Body = (update: Uint8Array): Uint8Array =>
  typedBytes(2, MessageType.sync, SyncType.step2, update)

export const updateBody = (update: Uint8Array): Uint8Array =>
  typedBytes(2, MessageType.sync, SyncType.update, update)

export const awarenessBody = (awarenessUpdate: Uint8Array): Uint8Array =>
  typedBytes(1, MessageType.awareness, 0, awarenessUpdate)

export const queryAwarenessBody = (): Uint8Array => Uint8Array.of(MessageType.queryAwareness)
