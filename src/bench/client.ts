/**
 * A lightweight protocol-level client for the benchmark: one WebSocket speaking y-websocket or
 * Hocuspocus, built on ws and the protocol encoders, without a provider. A reader does not even
 * keep a Y.Doc; it hands each received update to a callback. One process holds thousands.
 *
 * It does what a stock provider does on the wire: sends sync step 1 (after its token, for
 * Hocuspocus), answers the server's sync step 1 with a sync step 2 (of its own doc, or empty),
 * answers Hocuspocus' bare Ping with a Pong, and counts SyncStatus acknowledgements.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { Reader, concat, encodeParts } from '../protocol/binary.js'
import { addressPrefix } from '../protocol/hocuspocus.js'
import { MessageType, SyncType, syncStep1Body, syncStep2Body, updateBody } from '../protocol/messages.js'

export type BenchProtocol = 'y-websocket' | 'hocuspocus'

export interface BenchClientOptions {
  /** Full URL: for y-websocket including the document path. */
  readonly url: string
  readonly protocol: BenchProtocol
  /** Hocuspocus address (document name). */
  readonly document: string
  /** Keep a Y.Doc to make edits from (writers). */
  readonly writer?: boolean
  /** Each update received from the server (a view; copy to keep). */
  readonly onUpdate?: (update: Uint8Array) => void
  /** Each SyncStatus acknowledgement received. */
  readonly onAck?: () => void
}

const EMPTY_UPDATE = Uint8Array.of(0, 0)

export class BenchClient {
  readonly doc: Y.Doc | null
  private ws: WebSocket | null = null
  private readonly prefix: Uint8Array | null
  /** Acknowledgements of updates sent with `sendUpdate`/`type` (not of the handshake). */
  acks = 0
  /** Acknowledgements still owed for our handshake sync step 2 replies. */
  private handshakeAcks = 0
  synced = false
  authenticated = false
  closed = false
  closeCode = 0
  /** Each update received from the server (a view; copy to keep). Settable after construction. */
  onUpdate: ((update: Uint8Array) => void) | null
  /** Each SyncStatus acknowledgement of an update this client sent. */
  onAck: (() => void) | null
  private onSynced: (() => void) | null = null
  private onFailed: ((err: Error) => void) | null = null

  constructor (private readonly options: BenchClientOptions) {
    this.doc = options.writer === true ? new Y.Doc() : null
    this.onUpdate = options.onUpdate ?? null
    this.onAck = options.onAck ?? null
    this.prefix = options.protocol === 'hocuspocus' ? addressPrefix(options.document) : null
  }

  /** Opens the socket and completes the sync handshake. Rejects on close or after `timeoutMs`. */
  connect (timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no sync within ${timeoutMs} ms`)), timeoutMs)
      const fail = (err: Error): void => {
        clearTimeout(timer)
        this.onSynced = null
        this.onFailed = null
        this.ws?.terminate()
        reject(err)
      }
      this.onSynced = () => {
        clearTimeout(timer)
        this.onSynced = null
        this.onFailed = null
        resolve()
      }
      this.onFailed = fail
      const ws = new WebSocket(this.options.url, { perMessageDeflate: false })
      this.ws = ws
      ws.binaryType = 'nodebuffer'
      ws.on('open', () => {
        if (this.prefix !== null) {
          ws.send(encodeParts(this.prefix, MessageType.auth, 0, 'bench-token', '4.8.0'))
        }
        this.sendBody(syncStep1Body(this.doc === null ? Uint8Array.of(0) : Y.encodeStateVector(this.doc)))
      })
      ws.on('message', (data: Buffer) => this.receive(data))
      ws.on('error', (err) => this.onFailed?.(err))
      ws.on('close', (code) => {
        this.closed = true
        this.closeCode = code
        this.onFailed?.(new Error(`closed with ${code} before syncing`))
      })
    })
  }

  /** Sends a Yjs update (sync message type 2). */
  sendUpdate (update: Uint8Array): void {
    this.sendBody(updateBody(update))
  }

  /** Inserts one character at the end of text "t" and sends the update. @returns the edit's clock. */
  type (char = 'x'): number {
    const doc = this.doc!
    const clock = Y.getState(doc.store, doc.clientID)
    this.change((d) => {
      const text = d.getText('t')
      text.insert(text.length, char)
    })
    return clock
  }

  /**
   * Types `count` characters into this writer's doc without sending them, so a timed phase pays
   * only for sending. @returns each edit's clock and update, in order.
   */
  prepareTyping (count: number, char = 'x'): Array<{ clock: number, update: Uint8Array }> {
    const doc = this.doc!
    const text = doc.getText('t')
    const updates: Uint8Array[] = []
    const capture = (update: Uint8Array): void => { updates.push(update) }
    const start = Y.getState(doc.store, doc.clientID)
    doc.on('update', capture)
    for (let i = 0; i < count; i++) text.insert(text.length, char)
    doc.off('update', capture)
    // One character per transaction: edit i has clock start + i.
    return updates.map((update, i) => ({ clock: start + i, update }))
  }

  /** Runs `edit` on this writer's doc and sends the resulting update. */
  change (edit: (doc: Y.Doc) => void): void {
    const doc = this.doc!
    let update: Uint8Array | null = null
    const capture = (u: Uint8Array): void => { update = u }
    doc.on('update', capture)
    edit(doc)
    doc.off('update', capture)
    if (update !== null) this.sendUpdate(update)
  }

  get clientId (): number {
    return this.doc!.clientID
  }

  get bufferedAmount (): number {
    return this.ws?.bufferedAmount ?? 0
  }

  close (): void {
    this.closed = true
    this.ws?.terminate()
    this.doc?.destroy()
  }

  /** Closes with a close handshake (what a leaving user does). */
  end (): Promise<void> {
    return new Promise((resolve) => {
      const ws = this.ws
      if (ws === null || ws.readyState === WebSocket.CLOSED) {
        resolve()
        return
      }
      ws.once('close', () => resolve())
      ws.close(1000)
    })
  }

  private sendBody (body: Uint8Array): void {
    const ws = this.ws
    if (ws === null || ws.readyState !== WebSocket.OPEN) return
    ws.send(this.prefix === null ? body : concat(this.prefix, body))
  }

  private receive (data: Buffer): void {
    if (this.prefix !== null && data.length === 1) {
      if (data[0] === MessageType.ping) this.ws?.send(Uint8Array.of(MessageType.pong))
      return
    }
    const r = new Reader(data)
    if (this.prefix !== null) r.varBytes() // the address: one document per client here
    const type = r.varUint()
    if (type === MessageType.sync) {
      const sync = r.varUint()
      const payload = r.varBytes()
      if (sync === SyncType.update || (sync === SyncType.step2 && this.synced)) this.onUpdate?.(payload)
      else if (sync === SyncType.step2) {
        if (payload.length > 2) this.onUpdate?.(payload)
        this.synced = true
        if (this.prefix === null || this.authenticated) this.onSynced?.()
      } else if (sync === SyncType.step1) {
        if (this.prefix !== null) this.handshakeAcks++
        this.sendBody(syncStep2Body(this.doc === null ? EMPTY_UPDATE : Y.encodeStateAsUpdate(this.doc, payload)))
      }
    } else if (type === MessageType.auth) {
      const auth = r.varUint()
      if (auth === 2) {
        this.authenticated = true
        if (this.synced) this.onSynced?.()
      } else if (auth === 1) {
        this.onFailed?.(new Error(`permission denied: ${r.varString()}`))
      }
    } else if (type === MessageType.syncStatus) {
      if (this.handshakeAcks > 0) this.handshakeAcks--
      else {
        this.acks++
        this.onAck?.()
      }
    }
  }
}
