/**
 * The Hocuspocus wire format, as spoken by `@hocuspocus/provider` 4.x (checked against its
 * sources and @hocuspocus/common's). Pure: bytes in, typed messages out.
 *
 *   frame   := address:varString body | Ping (the single byte 9) | Pong (the single byte 10)
 *   address := documentName | documentName "\0" sessionId        (4.x `sessionAwareness`)
 *   body    := Sync (0) | SyncReply (4) syncMessage
 *            | Awareness (1) update:varBytes
 *            | Auth (2) Token (0) token:varString [providerVersion:varString]
 *            | QueryAwareness (3)
 *            | Stateless (5) payload:varString
 *            | Close (7)                                     client asks to close this document
 *   server-to-client bodies add:
 *            | Auth (2) PermissionDenied (1) reason:varString | Auth (2) Authenticated (2) scope:varString
 *            | SyncStatus (8) applied:varInt                  one per Sync step 2 / update received
 *            | Close (7) reason:varString
 *
 * Replies go to the address the frame came from. A bare Ping/Pong frame has no address: the
 * provider answers a one-byte Ping with a one-byte Pong, and checks the length before reading
 * an address, so a one-byte frame never collides with a real address.
 */
import { ProtocolError } from '../errors.js'
import { Reader, decodeUtf8, encodeParts, encodeVarString } from './binary.js'
import { MessageType, readSyncMessage, unknownType, type AwarenessMessage, type QueryAwarenessMessage, type SyncMessage } from './messages.js'

export const AuthType = { token: 0, permissionDenied: 1, authenticated: 2 } as const

export type AuthScope = 'read-write' | 'readonly'

export type HocuspocusMessage =
  | SyncMessage
  | AwarenessMessage
  | QueryAwarenessMessage
  | { readonly kind: 'auth', readonly token: string, readonly providerVersion: string | null }
  | { readonly kind: 'stateless', readonly payload: string }
  | { readonly kind: 'close' }

export type HocuspocusFrame =
  | { readonly kind: 'ping' }
  | { readonly kind: 'pong' }
  /** `address` is a view of the address' UTF-8 bytes inside the frame; see `addressToString`. */
  | { readonly kind: 'message', readonly address: Uint8Array, readonly message: HocuspocusMessage }

const PING: HocuspocusFrame = Object.freeze({ kind: 'ping' })
const PONG: HocuspocusFrame = Object.freeze({ kind: 'pong' })
const QUERY_AWARENESS: HocuspocusMessage = Object.freeze({ kind: 'query-awareness' })
const CLOSE: HocuspocusMessage = Object.freeze({ kind: 'close' })

/**
 * Decodes one client frame.
 * @throws {ProtocolError} on anything malformed, unknown, or server-only.
 */
export function decode (frame: Uint8Array): HocuspocusFrame {
  if (frame.length === 1) {
    if (frame[0] === MessageType.ping) return PING
    if (frame[0] === MessageType.pong) return PONG
  }
  const r = new Reader(frame)
  const address = r.varBytes()
  const type = r.varUint()
  let message: HocuspocusMessage
  switch (type) {
    case MessageType.sync:
    case MessageType.syncReply:
      message = readSyncMessage(r)
      break
    case MessageType.awareness:
      message = { kind: 'awareness', update: r.varBytes() }
      break
    case MessageType.auth: {
      const authType = r.varUint()
      if (authType !== AuthType.token) throw new ProtocolError(`auth message type ${authType} is sent by the server only`)
      const token = r.varString()
      const providerVersion = r.remaining > 0 ? r.varString() : null
      message = { kind: 'auth', token, providerVersion }
      break
    }
    case MessageType.queryAwareness:
      message = QUERY_AWARENESS
      break
    case MessageType.stateless:
      message = { kind: 'stateless', payload: r.varString() }
      break
    case MessageType.close:
      message = CLOSE
      break
    case MessageType.broadcastStateless:
    case MessageType.syncStatus:
      throw new ProtocolError(`message type ${type} is sent by the server only`)
    default:
      throw unknownType(type)
  }
  return { kind: 'message', address, message }
}

/** Decodes an address view from `decode`, byte-exact. @throws {ProtocolError} on invalid UTF-8. */
export const addressToString = (address: Uint8Array): string => decodeUtf8(address, 'document address')

/** Splits `name\0sessionId` (Hocuspocus 4 session awareness) into its parts. */
export function parseAddress (address: string): { documentName: string, sessionId: string | null } {
  const i = address.indexOf('\0')
  return i === -1 ? { documentName: address, sessionId: null } : { documentName: address.slice(0, i), sessionId: address.slice(i + 1) }
}

/** The address prefix of every frame sent to one session, computed once per session. */
export const addressPrefix = (address: string): Uint8Array => encodeVarString(address)

// Server-to-client frames. `prefix` is `addressPrefix(address)`.

export const authenticated = (prefix: Uint8Array, scope: AuthScope): Uint8Array =>
  encodeParts(prefix, MessageType.auth, AuthType.authenticated, scope)

export const permissionDenied = (prefix: Uint8Array, reason: string): Uint8Array =>
  encodeParts(prefix, MessageType.auth, AuthType.permissionDenied, reason)

/**
 * SyncStatus 1, the update was applied: `applied` is a lib0 varInt, which for 0 and 1 is the single byte 0 or 1.
 * The provider decrements `unsyncedChanges` for each `applied = 1`.
 */
export const syncStatusApplied = (prefix: Uint8Array): Uint8Array => encodeParts(prefix, MessageType.syncStatus, 1)

/** SyncStatus 0: the update was not applied (a read-only session's edit). */
export const syncStatusRefused = (prefix: Uint8Array): Uint8Array => encodeParts(prefix, MessageType.syncStatus, 0)

export const stateless = (prefix: Uint8Array, payload: string): Uint8Array =>
  encodeParts(prefix, MessageType.stateless, payload)

/** Tells the provider the server closed this one document; the socket stays open. */
export const close = (prefix: Uint8Array, reason: string): Uint8Array =>
  encodeParts(prefix, MessageType.close, reason)

export const PING_FRAME: Uint8Array = Uint8Array.of(MessageType.ping)
export const PONG_FRAME: Uint8Array = Uint8Array.of(MessageType.pong)
