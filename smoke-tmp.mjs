import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'
import WebSocket from 'ws'
import { createServer, MemoryStore } from '/work/main/dist/index.js'

const server = createServer({ config: { port: 0, logLevel: 'warn' }, store: new MemoryStore() })
const { port } = await server.listen(0, '127.0.0.1')
const url = `ws://127.0.0.1:${port}/ws`
const d1 = new Y.Doc(), d2 = new Y.Doc()
const p1 = new WebsocketProvider(url, 'doc-1', d1, { WebSocketPolyfill: WebSocket })
const p2 = new HocuspocusProvider({ url, name: 'doc-1', document: d2, WebSocketPolyfill: WebSocket })
p2.on('authenticated', (e) => console.log('authenticated', e))
p2.on('unsyncedChanges', (e) => console.log('unsynced', e.number))
await new Promise(r => setTimeout(r, 500))
d1.getText('t').insert(0, 'hello from yws ')
d2.getText('t').insert(0, 'hello from hp ')
p1.awareness.setLocalStateField('user', { name: 'a' })
await new Promise(r => setTimeout(r, 500))
console.log('d1', d1.getText('t').toString())
console.log('d2', d2.getText('t').toString())
console.log('aw1', [...p1.awareness.getStates().values()], 'aw2', [...p2.awareness.getStates().values()])
p1.destroy(); p2.destroy()
console.log(await server.close())
