/**
 * A connection speaking the Hocuspocus protocol: one socket carrying any number of documents,
 * each addressed by name (or `name\0sessionId`). Each address is a session with its own
 * lifecycle:
 *
 *   new --token--> admitting --admitted & joined--> open --Close / evict--> gone
 *
 * The provider sends its token, sync step 1 and awareness together without waiting, so until a
 * session is open its other messages wait in a queue bounded per socket. Admission answers
 * Authenticated (read-write or readonly) or PermissionDenied, and a denied session is forgotten
 * (the socket stays open for the provider's other documents or a retry).
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { Credentials } from '../auth/types.js'
import { MAX_DOCUMENT_NAME_LENGTH } from '../documents/names.js'
import { CloseCode, LimitError } from '../errors.js'
import * as hp from '../protocol/hocuspocus.js'
import { bytesEqual } from '../protocol/binary.js'
import type { ServerContext } from './context.js'
import { HocuspocusSession, type SessionEnd } from './hocuspocus-session.js'
import type { SessionHolder } from './session-recheck.js'
import { SocketConnection } from './socket-connection.js'

/** Longest session id accepted after `name\0` (the provider's are about 11 characters). */
const MAX_SESSION_ID_LENGTH = 128
/** Longest address accepted, in characters and (worst case 4 bytes each) in UTF-8 bytes. */
const MAX_ADDRESS_LENGTH = MAX_DOCUMENT_NAME_LENGTH + 1 + MAX_SESSION_ID_LENGTH
const MAX_ADDRESS_BYTES = 4 * MAX_ADDRESS_LENGTH

const addressTooLong = (): LimitError =>
  new LimitError('ADDRESS_LENGTH', 'document address too long', { publicReason: 'document address too long' })

export class HocuspocusConnection extends SocketConnection implements SessionHolder {
  readonly protocol = 'hocuspocus' as const
  private readonly sessions = new Map<string, HocuspocusSession>()
  /** The session of the previous frame, to skip decoding its address again (one-entry cache). */
  private lastSession: HocuspocusSession | null = null
  /** Messages and bytes queued by all sessions not yet open (the per-socket budget). */
  queuedMessages = 0
  queuedBytes = 0
  /**
   * Addresses the server closed (document unavailable). The provider stays attached after a
   * Close and keeps sending; those messages are dropped here instead of queueing as a new session
   * until the socket's budget runs out. A new token reopens the address. Bounded like sessions.
   */
  private readonly closedAddresses = new Set<string>()
  /** Documents refused on this socket so far (MAX_AUTH_FAILURES_PER_CONNECTION closes it). */
  private refusals = 0
  /** Whether to send application-level Ping frames: only 4.x providers understand them. */
  private appPing = false
  private authTimer: NodeJS.Timeout | null

  constructor (ctx: ServerContext, ws: WebSocket, socket: Duplex, credentials: Credentials, onGone: (c: SocketConnection) => void) {
    super(ctx, ws, socket, credentials, onGone)
    // A socket that never opens a document is closed, so idle unauthenticated sockets cannot pile up.
    this.authTimer = setTimeout(() => {
      this.authTimer = null
      if (!this.hasOpenSession()) {
        this.ctx.log.info({ connection: this.id }, 'no document authorized in time; closing connection')
        this.close(CloseCode.timeout, 'authentication timeout')
      }
    }, ctx.config.authTimeoutMs)
    this.authTimer.unref()
  }

  documentNames (): string[] {
    return [...this.sessions.values()].map((s) => s.documentName)
  }

  protected onFrame (frame: Uint8Array): void {
    const decoded = hp.decode(frame)
    if (decoded.kind === 'ping') {
      this.send(hp.PONG_FRAME)
      return
    }
    if (decoded.kind === 'pong') return
    const { address, message } = decoded
    let session = this.lastSession
    if (session === null || !bytesEqual(session.addressBytes, address)) {
      // Every session keeps copies of its address and prefixes every frame with it: bound it
      // before decoding or storing anything.
      if (address.length > MAX_ADDRESS_BYTES) throw addressTooLong()
      const name = hp.addressToString(address)
      session = this.sessions.get(name) ?? null
      if (session === null) {
        if (message.kind === 'close') return // closing a document we do not have: nothing to do
        if (this.closedAddresses.has(name)) {
          if (message.kind !== 'auth') return
          this.closedAddresses.delete(name)
        }
        session = this.openSession(name)
      }
      this.lastSession = session
    }
    session.receive(message, frame.length)
  }

  private openSession (address: string): HocuspocusSession {
    const sep = address.indexOf('\0')
    if (address.length > MAX_ADDRESS_LENGTH || (sep !== -1 && address.length - sep - 1 > MAX_SESSION_ID_LENGTH)) throw addressTooLong()
    if (this.sessions.size >= this.ctx.config.maxDocumentsPerConnection) {
      throw new LimitError('DOCUMENTS_PER_CONNECTION', `more than ${this.ctx.config.maxDocumentsPerConnection} documents on one connection`, { publicReason: 'too many documents on one connection' })
    }
    const session = new HocuspocusSession(this, address)
    this.sessions.set(address, session)
    return session
  }

  /** A session ended (denied, closed by the client, evicted): forget it. */
  sessionGone (session: HocuspocusSession, how: SessionEnd): void {
    if (this.sessions.get(session.address) === session) this.sessions.delete(session.address)
    if (this.lastSession === session) this.lastSession = null
    if (how.denied === true && ++this.refusals >= this.ctx.config.maxAuthFailuresPerConnection) {
      // A socket trying token after token (or name after name) is not a provider with a bad
      // token for one document: each refusal costs a verification, so the socket goes.
      this.ctx.log.warn({ connection: this.id, remoteAddress: this.credentials.remoteAddress, refusals: this.refusals }, 'too many refused documents; closing connection')
      this.close(CloseCode.unauthorized, 'authentication failed')
      return
    }
    if (how.closedByServer) {
      if (this.closedAddresses.size >= this.ctx.config.maxDocumentsPerConnection) {
        this.closedAddresses.delete(this.closedAddresses.values().next().value!)
      }
      this.closedAddresses.add(session.address)
    }
  }

  /** A session learned the provider's version from its token message. */
  providerVersion (version: string | null): void {
    if (version !== null && Number.parseInt(version, 10) >= 4) this.appPing = true
  }

  /** Counts a queued message against the socket's pre-authorization budget. @throws {LimitError} */
  reserveQueue (bytes: number): void {
    this.queuedMessages++
    this.queuedBytes += bytes
    if (this.queuedMessages > this.ctx.config.maxQueuedMessagesBeforeAuth || this.queuedBytes > this.ctx.config.maxQueuedBytesBeforeAuth) {
      throw new LimitError('MESSAGES_BEFORE_AUTH', 'too many messages before the document was authorized', { publicReason: 'too many messages before authorization' })
    }
  }

  releaseQueue (messages: number, bytes: number): void {
    this.queuedMessages -= messages
    this.queuedBytes -= bytes
  }

  /** Closes one document of this socket (server side), leaving the others open. */
  closeDocument (documentName: string, reason: string): void {
    for (const session of [...this.sessions.values()]) {
      if (session.documentName === documentName) session.closeByServer(reason)
    }
  }

  * authSessions (): Iterable<string> {
    if (this.closing) return
    for (const s of this.sessions.values()) if (s.isOpen && s.authSession !== null) yield s.authSession
  }

  /** Ends every document opened with `session`; with none left open, the socket closes with 4401. */
  revokeAuthSession (token: string): void {
    let revoked = false
    for (const s of [...this.sessions.values()]) {
      if (s.authSession !== token) continue
      s.revoke()
      revoked = true
    }
    if (revoked && !this.hasOpenSession()) this.close(CloseCode.unauthorized, 'session ended')
  }

  override heartbeat (): boolean {
    if (!super.heartbeat()) return false
    // The provider closes a socket that received nothing for 30 s; a bare Ping keeps it (and
    // providers with awareness disabled) alive, and it answers with a Pong.
    if (this.appPing) this.send(hp.PING_FRAME)
    return true
  }

  private hasOpenSession (): boolean {
    for (const s of this.sessions.values()) if (s.isOpen) return true
    return false
  }

  protected onClosed (code: number): void {
    if (this.authTimer !== null) clearTimeout(this.authTimer)
    this.authTimer = null
    for (const session of [...this.sessions.values()]) session.socketClosed(code)
    this.sessions.clear()
    this.lastSession = null
  }
}
