/**
 * What a room needs from a connection (or one document of a multiplexed Hocuspocus socket) that
 * joined it. server/ implements it once per protocol; the room never sees a socket or a wire
 * format beyond message bodies (protocol/messages.ts).
 */
import type { CloseCodeValue } from '../errors.js'
import type { Broadcast } from './broadcast.js'

export type { Broadcast }

/** What a room needs from a connection (or a Hocuspocus session) that joined it. */
export interface RoomMember {
  /** For logs: `c12` or `c12:doc-name` for one document of a multiplexed socket. */
  readonly id: string
  readonly userId: string | null
  /** Sends one message body (protocol/messages.ts) to this member only. */
  sendMessage (body: Uint8Array): void
  /** Sends a broadcast's bodies in order, sharing their wire bytes with the other members. */
  sendBroadcast (broadcast: Broadcast): void
  /** `count` more updates this member sent are now durable. */
  acknowledge (count: number): void
  /** A server-to-client stateless message; members whose protocol has none ignore it. */
  sendStateless (payload: string): void
  /** The room is going away under this member: end its session with this code and reason. */
  evict (code: CloseCodeValue, reason: string): void
}
