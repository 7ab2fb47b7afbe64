/**
 * What both protocol connections share: the ws listeners, liveness for the heartbeat, sending,
 * and closing with a clear code and reason when something goes wrong.
 *
 * ws emits 'message' synchronously from its socket reader and does not catch listener errors,
 * so a throw here would crash the process: every frame is handled inside one try, and any error
 * ends only this connection.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket, RawData } from 'ws'
import type { Credentials } from '../auth/types.js'
import { CloseCode, CollabdError, ProtocolError, type CloseCodeValue } from '../errors.js'
import type { Protocol, ServerContext } from './context.js'
import { binaryFrame } from './ws-frame.js'

let lastConnectionId = 0

/** Short, process-unique connection ids for logs: c1, c2, ... (base 36). */
export const nextConnectionId = (): string => 'c' + (++lastConnectionId).toString(36)

const OPEN = 1

/**
 * Fairness between sockets. ws emits every message of a socket read synchronously, and libuv
 * reads up to 32 chunks per poll, so one client bursting 20,000 small updates could hold the
 * event loop for ~600 ms while every other socket waited. Instead, a socket handles at most
 * MESSAGES_PER_TURN messages per turn of the event loop; the rest wait in its backlog (the socket
 * is paused meanwhile, so TCP backpressure slows the sender) and are handled a batch per turn.
 * Deferring every message to its own setImmediate (ws' allowSynchronousEvents: false) is just
 * as fair but cost a third of one client's throughput.
 */
const MESSAGES_PER_TURN = 64

/** Counts turns of the event loop, advanced by at most one setImmediate per turn. */
let turn = 0
let turnScheduled = false
const nextTurn = (): void => {
  turn++
  turnScheduled = false
}

/** Close reasons are limited to 123 bytes (RFC 6455 section 5.5). */
function closeReason (reason: string): string {
  const bytes = Buffer.from(reason)
  return bytes.length <= 123 ? reason : bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '...'
}

export abstract class SocketConnection {
  readonly id = nextConnectionId()
  abstract readonly protocol: Protocol
  /** Set by any traffic from the client, cleared by each heartbeat. */
  alive = true
  /** Set as soon as we decide to close: input after that is ignored. */
  protected closing = false
  private closedHandled = false
  /** Messages handled in turn `budgetTurn`. */
  private handledThisTurn = 0
  private budgetTurn = -1
  /** Messages over budget, oldest first; null when none wait. */
  private backlog: Buffer[] | null = null
  /** Reading stopped by `pause()` (shutdown); a drained backlog must not resume it. */
  private paused = false
  /** When the send buffer went above maxBufferedBytes (ms since epoch); 0 when below. */
  private overLimitSince = 0

  /**
   * @param socket the upgraded socket under `ws`: messages are framed here and written to it
   *   directly (see ws-frame.ts), while ws keeps reading, pings and the close handshake.
   */
  constructor (
    readonly ctx: ServerContext,
    protected readonly ws: WebSocket,
    private readonly socket: Duplex,
    readonly credentials: Credentials,
    private readonly onGone: (connection: SocketConnection) => void,
  ) {
    ws.on('message', this.onMessage)
    ws.on('pong', () => { this.alive = true })
    ws.on('close', (code: number) => this.handleClose(code))
    ws.on('error', (err: Error & { code?: string }) => {
      // ws reports protocol violations (oversized frames: WS_ERR_UNSUPPORTED_MESSAGE_LENGTH,
      // bad opcodes, ...) here and then closes the socket itself with the matching code.
      this.ctx.log.warn({ connection: this.id, documents: this.documentNames(), code: err.code, err: err.message }, 'websocket error; closing connection')
    })
  }

  /** Documents this connection has (or is opening), for logs. */
  abstract documentNames (): string[]

  /** Sessions (Better Auth) of this connection's open documents, for the periodic re-check. */
  abstract authSessions (): Iterable<string>
  abstract revokeAuthSession (token: string): void

  /** Handles one binary frame. May throw: the error closes this connection. */
  protected abstract onFrame (frame: Uint8Array): void

  /** The socket is gone: leave rooms, drop queues. Called exactly once. */
  protected abstract onClosed (code: number): void

  /** Sends one message (one WebSocket frame) if the socket is still open. */
  send (message: Uint8Array): void {
    if (this.ws.readyState === OPEN) this.sendWire(binaryFrame(message))
  }

  /**
   * Writes bytes that are already WebSocket frames (ws-frame.ts), if the socket is still open.
   *
   * A client that stops reading makes its send buffer grow with every broadcast. Above
   * maxBufferedBytes a clock starts; a client still above it one heartbeat interval later is
   * dropped (it resyncs when it reconnects), and one above four times the limit at once. The
   * grace lets a healthy client take in one large message, such as the first sync of a big
   * document, without being mistaken for a stuck one.
   */
  sendWire (frames: Uint8Array): void {
    if (this.ws.readyState !== OPEN) return
    this.socket.write(frames)
    const buffered = this.socket.writableLength
    const limit = this.ctx.config.maxBufferedBytes
    if (buffered <= limit) {
      this.overLimitSince = 0
      return
    }
    const now = Date.now()
    if (this.overLimitSince === 0) this.overLimitSince = now
    if ((buffered > 4 * limit || now - this.overLimitSince > this.ctx.config.heartbeatIntervalMs) && !this.closing) {
      this.ctx.log.warn({ connection: this.id, documents: this.documentNames(), bufferedBytes: buffered }, 'client is not reading; dropping connection')
      this.terminate()
    }
  }

  /** Ends this connection because of `err`: logged at warn, the client gets the error's close code. */
  fail (err: unknown): void {
    if (this.closing) return
    const e = err instanceof CollabdError ? err : new CollabdError('ERR_INTERNAL', (err as Error)?.message ?? String(err), { cause: err })
    const cause = e.cause instanceof Error ? e.cause.message : undefined
    if (e.closeCode === CloseCode.internalError && !(err instanceof CollabdError)) {
      this.ctx.log.error({ connection: this.id, documents: this.documentNames(), err }, 'internal error; closing connection')
    } else {
      this.ctx.log.warn({ connection: this.id, documents: this.documentNames(), code: e.code, reason: e.message, cause }, 'closing connection')
    }
    this.close(e.closeCode, e.publicReason)
  }

  close (code: CloseCodeValue, reason: string): void {
    if (this.closing) return
    this.closing = true
    this.ws.close(code, closeReason(reason))
    // A paused socket (graceful shutdown) must read again to see the client's close frame;
    // `closing` already makes us ignore anything else it sends.
    this.ws.resume()
  }

  /** Drops the socket without a close handshake (dead peer, shutdown deadline). */
  terminate (): void {
    this.closing = true
    this.ws.terminate()
  }

  /** Stops reading from the socket (graceful shutdown: no new updates while we drain). */
  pause (): void {
    this.paused = true
    this.ws.pause()
  }

  /**
   * One heartbeat tick: terminates the connection if it stayed silent since the last tick,
   * otherwise pings it. @returns false when terminated.
   */
  heartbeat (): boolean {
    if (!this.alive) {
      this.ctx.log.info({ connection: this.id, documents: this.documentNames() }, 'no pong since the last heartbeat; terminating connection')
      this.terminate()
      return false
    }
    this.alive = false
    if (this.ws.readyState === OPEN) this.ws.ping()
    return true
  }

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    this.alive = true
    if (this.closing) return
    if (!isBinary) {
      this.fail(new ProtocolError('text frames are not part of the protocol', { closeCode: CloseCode.unsupportedData, publicReason: 'binary frames only' }))
      return
    }
    if (this.backlog !== null) {
      this.backlog.push(data as Buffer)
      return
    }
    if (!turnScheduled) {
      turnScheduled = true
      setImmediate(nextTurn)
    }
    if (this.budgetTurn !== turn) {
      this.budgetTurn = turn
      this.handledThisTurn = 0
    }
    if (++this.handledThisTurn > MESSAGES_PER_TURN) {
      this.backlog = [data as Buffer]
      this.ws.pause()
      setImmediate(this.drainBacklog)
      return
    }
    this.handleFrame(data as Buffer)
  }

  /** Handles one batch of the backlog per turn until it is empty, then reads again. */
  private readonly drainBacklog = (): void => {
    const backlog = this.backlog
    if (backlog === null) return
    const batch = backlog.splice(0, MESSAGES_PER_TURN)
    for (const frame of batch) {
      if (this.closing) break
      this.handleFrame(frame)
    }
    if (this.closing || backlog.length === 0) {
      this.backlog = null
      if (!this.closing && !this.paused) this.ws.resume()
    } else {
      setImmediate(this.drainBacklog)
    }
  }

  private handleFrame (frame: Buffer): void {
    try {
      this.onFrame(frame)
    } catch (err) {
      this.fail(err)
    }
  }

  private handleClose (code: number): void {
    this.closing = true
    if (this.closedHandled) return
    this.closedHandled = true
    try {
      this.onClosed(code)
    } finally {
      this.onGone(this)
    }
  }
}
