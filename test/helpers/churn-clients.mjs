// A separate process of real clients, so a test can measure the server's heap without the
// clients' own memory in it. Usage: node churn-clients.mjs <ws-url> <prefix> <count> <bytes>
// Opens <count> documents (alternating y-websocket and Hocuspocus), writes <bytes> of text into
// each, prints "ready", and on any line from stdin disconnects everything and exits.
import { HocuspocusProvider } from '@hocuspocus/provider'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

const [url, prefix, count, bytes] = process.argv.slice(2)
// Every y-websocket provider adds a process 'exit' listener in Node; many are expected here.
process.setMaxListeners(Number(count) + 10)
const deadline = Date.now() + 20_000
const until = async (predicate, what) => {
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`churn-clients: timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
const clients = Array.from({ length: Number(count) }, (_, i) => {
  const doc = new Y.Doc()
  const name = `${prefix}-${i}`
  const provider = i % 2 === 0
    ? new WebsocketProvider(url, name, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
    : new HocuspocusProvider({ url, name, document: doc, WebSocketPolyfill: WebSocket })
  return { doc, provider }
})
await until(() => clients.every((c) => c.provider.synced), 'every client to sync')
const content = 'x'.repeat(Number(bytes))
for (const { doc, provider } of clients) {
  doc.getText('t').insert(0, content)
  provider.awareness?.setLocalStateField('user', { name: 'churn' })
}
process.stdout.write('ready\n')
process.stdin.once('data', () => {
  for (const { doc, provider } of clients) {
    provider.destroy()
    provider.awareness?.destroy()
    doc.destroy()
  }
  process.exit(0)
})
