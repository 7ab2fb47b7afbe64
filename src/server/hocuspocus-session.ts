/**
 * One document on a Hocuspocus socket (see hocuspocus-connection.ts for the lifecycle). Every
 * frame it sends starts with its address, encoded once here; the acknowledgement frame is built
 * once too, so acknowledging an update allocates nothing.
 */
import type { Room, RoomMember, Broadcast } from '../documents/room.js'
import { CloseCode, CollabdError, type CloseCodeValue } from '../errors.js'
import { bytesEqual, encodeUtf8 } from '../protocol/binary.js'
import * as hp from '../protocol/hocuspocus.js'
import { awarenessBody, syncStep1Body, syncStep2Body } from '../protocol/messages.js'
import { admit } from './admission.js'
import type { Credentials } from '../auth/types.js'
import type { ServerContext } from './context.js'
import { emitSafely } from './events.js'
import { binaryFrame, binaryFrames, repeatFrame } from './ws-frame.js'

/** What a session needs from its socket (implemented by HocuspocusConnection). */
export interface SessionSocket {
  readonly id: string
  readonly ctx: ServerContext
  readonly credentials: Credentials
  /** Sends one message (a frame's payload). */
  send (message: Uint8Array): void
  /** Writes bytes that are already WebSocket frames. */
  sendWire (frames: Uint8Array): void
  close (code: CloseCodeValue, reason: string): void
  /** Ends the whole socket because of `err`. */
  fail (err: unknown): void
  providerVersion (version: string | null): void
  reserveQueue (bytes: number): void
  releaseQueue (messages: number, bytes: number): void
  /** The session ended (with `closedByServer`, later frames for its address are ignored). */
  sessionGone (session: HocuspocusSession, how: SessionEnd): void
}

type State = 'new' | 'admitting' | 'open' | 'gone'

/** How a session ended. */
export interface SessionEnd {
  /** The server closed it (a Close or PermissionDenied was sent), rather than the client or the socket. */
  readonly closedByServer: boolean
  /** The socket's close code, when the socket closed under it. */
  readonly code?: number
  /** Admission refused the document (PermissionDenied was sent). */
  readonly denied?: boolean
}

/** Ended without a Close from the server (the client closed it, or it was denied): a later Auth for its address starts afresh. */
const ENDED: SessionEnd = { closedByServer: false }
const CLOSED_BY_SERVER: SessionEnd = { closedByServer: true }
const DENIED: SessionEnd = { closedByServer: false, denied: true }

export class HocuspocusSession implements RoomMember {
  readonly id: string
  readonly documentName: string
  /** UTF-8 bytes of the address, compared against incoming frames without decoding them. */
  readonly addressBytes: Uint8Array
  private readonly prefix: Uint8Array
  /** The acknowledgement, as wire bytes (WebSocket frame included). */
  private readonly ackWire: Uint8Array
  private state: State = 'new'
  private queue: hp.HocuspocusMessage[] = []
  private queuedBytes = 0
  private room: Room | null = null
  userId: string | null = null
  /** The admitted principal's Better Auth session token, for re-checks (not this document session). */
  authSession: string | null = null
  private readOnly = false

  constructor (private readonly connection: SessionSocket, readonly address: string) {
    this.documentName = hp.parseAddress(address).documentName
    this.id = `${connection.id}:${this.documentName}`
    this.addressBytes = encodeUtf8(address)
    this.prefix = hp.addressPrefix(address)
    this.ackWire = binaryFrame(hp.syncStatusApplied(this.prefix))
  }

  get isOpen (): boolean {
    return this.state === 'open'
  }

  /** A message for this address. May throw a ProtocolError (closes the socket). */
  receive (message: hp.HocuspocusMessage, bytes: number): void {
    if (this.state === 'open') {
      this.handle(message)
      return
    }
    if (message.kind === 'auth' && this.state === 'new') {
      this.state = 'admitting'
      this.connection.providerVersion(message.providerVersion)
      void this.admitAndJoin(message.token)
      return
    }
    if (message.kind === 'close') {
      this.end(ENDED)
      return
    }
    this.connection.reserveQueue(bytes)
    this.queue.push(message)
    this.queuedBytes += bytes
  }

  private async admitAndJoin (token: string): Promise<void> {
    const ctx = this.connection.ctx
    try {
      const admission = await admit(ctx, { ...this.connection.credentials, hocuspocusToken: token }, this.documentName)
      if (this.state !== 'admitting') return
      if (!admission.ok) {
        ctx.log.warn({ connection: this.connection.id, document: this.documentName, remoteAddress: this.connection.credentials.remoteAddress, reason: admission.logReason, userId: admission.userId ?? null }, 'document refused')
        emitSafely(ctx, 'denied', { connectionId: this.connection.id, protocol: 'hocuspocus', documentName: this.documentName, reason: admission.logReason })
        this.connection.send(hp.permissionDenied(this.prefix, admission.publicReason))
        this.end(DENIED)
        return
      }
      this.userId = admission.principal.userId
      this.authSession = admission.principal.authSession ?? null
      this.readOnly = admission.readOnly
      let room: Room
      try {
        room = await ctx.registry.join(this.documentName, this)
      } catch (err) {
        const publicReason = err instanceof CollabdError ? err.publicReason : 'document unavailable'
        ctx.log.warn({ connection: this.connection.id, document: this.documentName, err: (err as Error).message }, 'document could not be opened')
        this.closeByServer(publicReason)
        return
      }
      if (this.state !== 'admitting') {
        room.leave(this)
        return
      }
      this.room = room
      this.state = 'open'
      this.connection.send(hp.authenticated(this.prefix, this.readOnly ? 'readonly' : 'read-write'))
      ctx.log.info({ connection: this.connection.id, document: this.documentName, protocol: 'hocuspocus', userId: this.userId, readOnly: this.readOnly }, 'connected')
      emitSafely(ctx, 'connect', { connectionId: this.connection.id, protocol: 'hocuspocus', documentName: this.documentName, userId: this.userId, readOnly: this.readOnly })
      const queued = this.queue
      this.releaseQueue()
      for (const message of queued) {
        if (this.state !== 'open') break
        this.handle(message)
      }
    } catch (err) {
      this.connection.fail(err)
    }
  }

  private handle (message: hp.HocuspocusMessage): void {
    const room = this.room!
    switch (message.kind) {
      case 'sync-step-1':
        // Answer with what the client lacks, then ask for what we lack: the provider's answer
        // (its sync step 2) is acknowledged, which settles its initial `unsyncedChanges` of 1.
        this.sendMessage(syncStep2Body(room.diff(message.stateVector)))
        this.sendMessage(syncStep1Body(room.stateVector()))
        break
      case 'sync-step-2':
        if (!this.readOnly) room.applyUpdate(this, message.update)
        // A viewer's step 2 with nothing new is fine: acknowledged once what it matches is
        // durable. Real changes are refused.
        else if (room.containsUpdate(message.update)) room.acknowledgeWhenDurable(this)
        else this.connection.send(hp.syncStatusRefused(this.prefix))
        break
      case 'update':
        if (!this.readOnly) room.applyUpdate(this, message.update)
        else this.connection.send(hp.syncStatusRefused(this.prefix))
        break
      case 'awareness':
        room.applyAwareness(this, message.update)
        break
      case 'query-awareness': {
        const states = room.awarenessStates()
        if (states !== null) this.sendMessage(awarenessBody(states))
        break
      }
      case 'stateless':
        emitSafely(this.connection.ctx, 'stateless', {
          documentName: this.documentName,
          connectionId: this.connection.id,
          userId: this.userId,
          payload: message.payload,
          reply: (payload: string) => this.sendStateless(payload),
        })
        break
      case 'close':
        this.end(ENDED)
        break
      case 'auth':
        // The provider re-sends its token only after a reconnect; on an open session it is moot.
        break
    }
  }

  // RoomMember

  sendMessage (body: Uint8Array): void {
    this.connection.sendWire(binaryFrame(body, this.prefix))
  }

  sendBroadcast (broadcast: Broadcast): void {
    const cached = broadcast.addressPrefix
    if (cached !== this.prefix && (cached === null || !bytesEqual(cached, this.prefix))) {
      broadcast.addressPrefix = this.prefix
      broadcast.addressed = binaryFrames(broadcast.bodies, this.prefix)
    }
    this.connection.sendWire(broadcast.addressed!)
  }

  acknowledge (count: number): void {
    if (this.state === 'open') this.connection.sendWire(repeatFrame(this.ackWire, count))
  }

  sendStateless (payload: string): void {
    if (this.state === 'open') this.connection.send(hp.stateless(this.prefix, payload))
  }

  evict (code: CloseCodeValue, reason: string): void {
    this.room = null
    // A reset must make the provider reconnect and sync again, which only a socket close does;
    // anything else closes just this document.
    if (code === CloseCode.resetConnection) this.connection.close(code, reason)
    else this.closeByServer(reason)
  }

  /** The session behind this document ended (re-check): PermissionDenied, and the document closes. */
  revoke (): void {
    if (this.state === 'gone') return
    const ctx = this.connection.ctx
    ctx.log.info({ connection: this.connection.id, document: this.documentName, userId: this.userId }, 'session ended; closing document')
    this.connection.send(hp.permissionDenied(this.prefix, 'session ended'))
    this.end(CLOSED_BY_SERVER)
  }

  /** Closes this document only: tells the provider, leaves the room, forgets the session. */
  closeByServer (reason: string): void {
    if (this.state === 'gone') return
    this.connection.send(hp.close(this.prefix, reason))
    this.end(CLOSED_BY_SERVER)
  }

  /** The socket closed under this session. */
  socketClosed (code: number): void {
    this.end({ closedByServer: false, code })
  }

  private end (how: SessionEnd): void {
    if (this.state === 'gone') return
    const wasOpen = this.state === 'open'
    this.state = 'gone'
    this.releaseQueue()
    const room = this.room
    this.room = null
    if (room !== null) room.leave(this)
    this.connection.sessionGone(this, how)
    if (wasOpen) {
      const ctx = this.connection.ctx
      ctx.log.info({ connection: this.connection.id, document: this.documentName, code: how.code }, 'disconnected')
      emitSafely(ctx, 'disconnect', { connectionId: this.connection.id, protocol: 'hocuspocus', documentName: this.documentName })
    }
  }

  private releaseQueue (): void {
    this.connection.releaseQueue(this.queue.length, this.queuedBytes)
    this.queue = []
    this.queuedBytes = 0
  }
}
