/**
 * The real, unchanged client packages (y-websocket's WebsocketProvider and
 * @hocuspocus/provider), wrapped only to track them for cleanup, plus a raw protocol client for
 * tests that need to see or send exact frames.
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { waitFor } from './wait.js'

const open: Array<() => void> = []

/** Destroys every client created since the last call (afterEach). */
export function destroyClients (): void {
  for (const destroy of open.splice(0)) {
    try { destroy() } catch { /* already gone */ }
  }
}

/** A ws WebSocket class that sends `headers` with its upgrade (what a browser sends as cookies). */
function withHeaders (headers: Record<string, string>): typeof WebSocket {
  return class extends WebSocket {
    constructor (address: string, protocols?: string | string[]) {
      super(address, protocols ?? [], { headers })
    }
  } as typeof WebSocket
}

export function yws (url: string, name: string, opts: { doc?: Y.Doc, params?: Record<string, string>, headers?: Record<string, string>, connect?: boolean, webSocket?: typeof WebSocket } = {}): { doc: Y.Doc, provider: WebsocketProvider } {
  const doc = opts.doc ?? new Y.Doc()
  const polyfill = opts.headers === undefined ? opts.webSocket ?? WebSocket : withHeaders(opts.headers)
  const provider = new WebsocketProvider(url, name, doc, { WebSocketPolyfill: polyfill as never, params: opts.params ?? {}, disableBc: true, connect: opts.connect ?? true })
  open.push(() => { provider.destroy(); provider.awareness.destroy(); doc.destroy() })
  return { doc, provider }
}

export function hocus (url: string, name: string, opts: { doc?: Y.Doc, token?: string, websocketProvider?: HocuspocusProviderWebsocket, sessionAwareness?: boolean, headers?: Record<string, string>, webSocket?: typeof WebSocket } = {}): { doc: Y.Doc, provider: HocuspocusProvider } {
  const doc = opts.doc ?? new Y.Doc()
  const polyfill = opts.headers === undefined ? opts.webSocket ?? WebSocket : withHeaders(opts.headers)
  const provider = new HocuspocusProvider({
    ...(opts.websocketProvider === undefined ? { url, WebSocketPolyfill: polyfill } : { websocketProvider: opts.websocketProvider }),
    name,
    document: doc,
    token: opts.token ?? 'test-token',
    ...(opts.sessionAwareness === true ? { sessionAwareness: true } : {}),
  } as never)
  if (opts.websocketProvider !== undefined) provider.attach()
  open.push(() => { provider.destroy(); doc.destroy() })
  return { doc, provider }
}

export function hocusSocket (url: string): HocuspocusProviderWebsocket {
  const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: WebSocket } as never)
  open.push(() => socket.destroy())
  return socket
}

export async function synced (provider: { synced: boolean }, what = 'provider to sync', timeoutMs = 10_000): Promise<void> {
  await waitFor(() => provider.synced, what, timeoutMs)
}

export const text = (doc: Y.Doc, name = 't'): string => doc.getText(name).toString()

/** A bare WebSocket that records every frame it receives and its close event. */
export interface RawClient {
  ws: WebSocket
  frames: Uint8Array[]
  closed: Promise<{ code: number, reason: string }>
  isClosed (): boolean
  send (frame: Uint8Array | string): void
  close (): void
}

export async function raw (url: string, opts: { autoPong?: boolean, headers?: Record<string, string> } = {}): Promise<RawClient> {
  const ws = new WebSocket(url, { autoPong: opts.autoPong ?? true, headers: opts.headers ?? {} })
  const frames: Uint8Array[] = []
  let isClosed = false
  ws.on('message', (data: Buffer) => frames.push(new Uint8Array(data)))
  const closed = new Promise<{ code: number, reason: string }>((resolve) => ws.on('close', (code, reason) => {
    isClosed = true
    resolve({ code, reason: reason.toString() })
  }))
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
  open.push(() => ws.terminate())
  return { ws, frames, closed, isClosed: () => isClosed, send: (f) => ws.send(f), close: () => ws.close() }
}
