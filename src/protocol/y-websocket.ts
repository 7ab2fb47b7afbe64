/**
 * The y-websocket wire format (y-protocols sync, awareness and auth), as spoken by the stock
 * `y-websocket` WebsocketProvider. One binary frame is one message; the document is named by
 * the URL path, not in the frames. Pure: bytes in, typed messages out.
 *
 *   frame := Sync (0) syncMessage | Awareness (1) varBytes | Auth (2) authMessage | QueryAwareness (3)
 *   authMessage (server to client only) := PermissionDenied (0) reason:varString
 */
import { ProtocolError } from '../errors.js'
import { Reader, encodeParts } from './binary.js'
import { MessageType, readSyncMessage, unknownType, type AwarenessMessage, type QueryAwarenessMessage, type SyncMessage } from './messages.js'

export type YWebsocketMessage = SyncMessage | AwarenessMessage | QueryAwarenessMessage

/**
 * Decodes one client frame.
 * @throws {ProtocolError} on anything malformed, unknown, or server-to-client only.
 */
export function decode (frame: Uint8Array): YWebsocketMessage {
  const r = new Reader(frame)
  const type = r.varUint()
  switch (type) {
    case MessageType.sync: return readSyncMessage(r)
    case MessageType.awareness: return { kind: 'awareness', update: r.varBytes() }
    case MessageType.queryAwareness: return QUERY_AWARENESS
    case MessageType.auth: throw new ProtocolError('auth messages are sent by the server only')
    default: throw unknownType(type)
  }
}

const QUERY_AWARENESS: QueryAwarenessMessage = Object.freeze({ kind: 'query-awareness' })

/** y-protocols/auth permission-denied; the stock provider logs the reason and stays connected. */
export const permissionDenied = (reason: string): Uint8Array =>
  encodeParts(null, MessageType.auth, 0, reason)
