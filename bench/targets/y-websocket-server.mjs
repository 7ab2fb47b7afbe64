#!/usr/bin/env node
// The y-websocket reference server as a benchmark peer: @y/websocket-server 0.1.1 (the newest
// that works with yjs 13), its own setupWSConnection, documents in memory, as its server.js
// starts it. Prints {"listening":<port>} on stdout once it accepts connections.
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { setupWSConnection } from '@y/websocket-server/utils'

const wss = new WebSocketServer({ noServer: true })
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.end('okay')
})
wss.on('connection', setupWSConnection)
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ listening: server.address().port }) + '\n')
})
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0))
