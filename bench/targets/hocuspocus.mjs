#!/usr/bin/env node
// Hocuspocus as a benchmark peer: @hocuspocus/server (current major), documents in memory, no
// extensions, default settings (flushDelay 0: broadcasts coalesced per event-loop turn).
// Prints {"listening":<port>} on stdout once it accepts connections.
import { Server } from '@hocuspocus/server'

const server = new Server({ port: Number(process.env.PORT ?? 0), address: '127.0.0.1', quiet: true })
await server.listen()
process.stdout.write(JSON.stringify({ listening: server.address.port }) + '\n')
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await server.destroy()
    process.exit(0)
  })
}
