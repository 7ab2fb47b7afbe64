// collabd inside an application that already has an HTTP server (a Next.js custom server,
// Express, plain node:http): one port serves the app's pages and collabd's WebSocket.
//
//   node examples/embed-in-http-server.mjs        # then open http://localhost:3000
//
// Clients connect to ws://localhost:3000/collab (Hocuspocus) or
// ws://localhost:3000/collab/<document> (y-websocket). Other upgrade requests (say, a dev
// server's hot reload) are left to the app.
import http from 'node:http'
import { createServer } from 'collabd'

const collab = createServer({ config: { wsPath: '/collab' } })

const app = http.createServer((req, res) => {
  if (collab.handleRequest(req, res)) return // collabd's own routes, e.g. GET /health
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end('<h1>My app</h1><p>collabd is at ws://' + req.headers.host + '/collab</p>')
    return
  }
  res.writeHead(404).end()
})

await collab.attach(app)
app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'app listening', port: app.address().port }))
})

// Stop accepting, write pending updates, close clients with 1012, then stop the app.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    const { clean } = await collab.close()
    app.close()
    process.exit(clean ? 0 : 1)
  })
}
