/**
 * A connection speaking the y-websocket protocol: one socket, one document (named by the URL
 * path). On connect: admit (name, authentication, authorization), join the room (loading the
 * document), send our sync step 1; frames that arrive meanwhile wait in a bounded queue.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { Credentials } from '../auth/types.js'
import type { Room, RoomMember, Broadcast } from '../documents/room.js'
import { CloseCode, LimitError, type CloseCodeValue } from '../errors.js'
import { awarenessBody, syncStep1Body, syncStep2Body } from '../protocol/messages.js'
import * as yws from '../protocol/y-websocket.js'
import { admit } from './admission.js'
import type { ServerContext } from './context.js'
import { emitSafely } from './events.js'
import type { SessionHolder } from './session-recheck.js'
import { SocketConnection } from './socket-connection.js'
import { binaryFrames } from './ws-frame.js'

export class YWebsocketConnection extends SocketConnection implements RoomMember, SessionHolder {
  readonly protocol = 'y-websocket' as const
  userId: string | null = null
  /** The admitted principal's session (Better Auth), for re-checks. */
  /** The admitted principal's Better Auth session token, for re-checks. */
  private authSession: string | null = null
  private room: Room | null = null
  private readOnly = false
  /** Frames received before the room was joined; null afterwards. */
  private queue: Uint8Array[] | null = []
  private queuedBytes = 0
  private toldReadOnly = false

  constructor (
    ctx: ServerContext,
    ws: WebSocket,
    socket: Duplex,
    credentials: Credentials,
    readonly documentName: string,
    onGone: (c: SocketConnection) => void,
  ) {
    super(ctx, ws, socket, credentials, onGone)
  }

  documentNames (): string[] {
    return [this.documentName]
  }

  /** Admits and joins; runs once, right after the upgrade. Never rejects. */
  async start (): Promise<void> {
    try {
      const admission = await admit(this.ctx, this.credentials, this.documentName)
      if (this.closing) return
      if (!admission.ok) {
        this.ctx.log.warn({ connection: this.id, document: this.documentName, remoteAddress: this.credentials.remoteAddress, reason: admission.logReason, userId: admission.userId ?? null }, 'connection refused')
        emitSafely(this.ctx, 'denied', { connectionId: this.id, protocol: this.protocol, documentName: this.documentName, reason: admission.logReason })
        this.send(yws.permissionDenied(admission.publicReason))
        this.close(admission.closeCode, admission.publicReason)
        return
      }
      this.userId = admission.principal.userId
      this.authSession = admission.principal.authSession ?? null
      this.readOnly = admission.readOnly
      const room = await this.ctx.registry.join(this.documentName, this)
      if (this.closing) {
        room.leave(this)
        return
      }
      this.room = room
      this.send(syncStep1Body(room.stateVector()))
      this.ctx.log.info({ connection: this.id, document: this.documentName, protocol: this.protocol, userId: this.userId, readOnly: this.readOnly }, 'connected')
      emitSafely(this.ctx, 'connect', { connectionId: this.id, protocol: this.protocol, documentName: this.documentName, userId: this.userId, readOnly: this.readOnly })
      const queued = this.queue ?? []
      this.queue = null
      for (const frame of queued) {
        if (this.closing) break
        this.handle(frame)
      }
    } catch (err) {
      this.fail(err)
    }
  }

  protected onFrame (frame: Uint8Array): void {
    if (this.queue === null) {
      this.handle(frame)
      return
    }
    this.queuedBytes += frame.length
    if (this.queue.length >= this.ctx.config.maxQueuedMessagesBeforeAuth || this.queuedBytes > this.ctx.config.maxQueuedBytesBeforeAuth) {
      throw new LimitError('MESSAGES_BEFORE_AUTH', 'too many messages before the document was opened', { publicReason: 'too many messages before authorization' })
    }
    this.queue.push(frame)
  }

  private handle (frame: Uint8Array): void {
    const room = this.room
    if (room === null) return
    const message = yws.decode(frame)
    switch (message.kind) {
      case 'sync-step-1':
        this.send(syncStep2Body(room.diff(message.stateVector)))
        break
      case 'sync-step-2':
      case 'update':
        if (!this.readOnly) room.applyUpdate(this, message.update)
        // A viewer's sync step 2 usually holds nothing new; only real changes are refused.
        else if (message.kind === 'update' || !room.containsUpdate(message.update)) this.refuseWrite()
        break
      case 'awareness':
        room.applyAwareness(this, message.update)
        break
      case 'query-awareness': {
        const states = room.awarenessStates()
        if (states !== null) this.send(awarenessBody(states))
        break
      }
    }
  }

  /** A read-only client sent an update: it is dropped, and the client told once. */
  private refuseWrite (): void {
    if (this.toldReadOnly) return
    this.toldReadOnly = true
    this.ctx.log.info({ connection: this.id, document: this.documentName, userId: this.userId }, 'read-only connection sent an update; dropped')
    this.send(yws.permissionDenied('read-only access: updates are not accepted'))
  }

  // SessionHolder

  * authSessions (): Iterable<string> {
    if (this.authSession !== null && this.room !== null && !this.closing) yield this.authSession
  }

  revokeAuthSession (token: string): void {
    if (token !== this.authSession || this.closing) return
    this.ctx.log.info({ connection: this.id, document: this.documentName, userId: this.userId }, 'session ended; closing connection')
    this.send(yws.permissionDenied('session ended'))
    this.close(CloseCode.unauthorized, 'session ended')
  }

  // RoomMember

  sendMessage (body: Uint8Array): void {
    this.send(body)
  }

  sendBroadcast (broadcast: Broadcast): void {
    broadcast.bare ??= binaryFrames(broadcast.bodies)
    this.sendWire(broadcast.bare)
  }

  acknowledge (): void {}

  sendStateless (): void {}

  evict (code: CloseCodeValue, reason: string): void {
    this.room = null
    this.close(code, reason)
  }

  protected onClosed (code: number): void {
    this.queue = null
    const room = this.room
    this.room = null
    if (room === null) return
    room.leave(this)
    this.ctx.log.info({ connection: this.id, document: this.documentName, code }, 'disconnected')
    emitSafely(this.ctx, 'disconnect', { connectionId: this.id, protocol: this.protocol, documentName: this.documentName })
  }
}
