// Sends a burst of updates from another process, so the test process can measure round trips
// on other documents without the burst's own CPU in the way.
// Usage: node burst-client.mjs <ws-url> <document> <updates>
// Speaks Hocuspocus: authenticates, sends every update back to back, then waits until the
// server acknowledged all of them and a passive second socket received all of them.
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import WebSocket from 'ws'
import * as Y from 'yjs'

const [url, name, count] = process.argv.slice(2)
const total = Number(count)
const frame = (build) => {
  const e = encoding.createEncoder()
  encoding.writeVarString(e, name)
  build(e)
  return encoding.toUint8Array(e)
}
const src = new Y.Doc()
const updates = []
src.on('update', (u) => updates.push(frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, u) })))
for (let i = 0; i < total; i++) src.getText('t').insert(i, 'x')
const token = frame((e) => { encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, 't'); encoding.writeVarString(e, '4.8.0') })

const open = (onMessage) => new Promise((resolve) => {
  const ws = new WebSocket(url)
  ws.on('message', onMessage)
  ws.on('open', () => { ws.send(token); resolve(ws) })
})
let received = 0
await open((data) => { if (data[name.length + 1] === 0) received++ })
let acks = 0
let authenticated = false
const ws = await open((data) => {
  const type = data[name.length + 1]
  if (type === 2) authenticated = true
  if (type === 8) acks++
})
const until = async (predicate) => { while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 5)) }
await until(() => authenticated)
const start = performance.now()
process.stdout.write('sending\n')
for (const u of updates) ws.send(u)
await until(() => acks >= total && received >= total)
process.stdout.write(`done ${Math.round(performance.now() - start)}\n`)
process.exit(0)
