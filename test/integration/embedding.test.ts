/**
 * collabd as a library, attached to an application's own HTTP server: the example in
 * examples/ runs as its users would run it, and both stock providers sync through it.
 */
import { spawn } from 'node:child_process'
import * as path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { destroyClients, hocus, synced, text, yws } from '../helpers/clients.js'
import { ROOT } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

afterEach(() => destroyClients())

it('examples/embed-in-http-server.mjs serves the app and collabd on one port', async () => {
  const child = spawn(process.execPath, [path.join(ROOT, 'examples', 'embed-in-http-server.mjs')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PORT: '0', DATABASE_URL: 'memory:', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  try {
    await waitFor(() => out.includes('app listening'), 'the example app to listen', 20_000)
    const port = (JSON.parse(out.split('\n').find((l) => l.includes('app listening'))!) as { port: number }).port
    const base = `http://127.0.0.1:${port}`
    expect(await (await fetch(`${base}/`)).text()).toContain('My app')
    expect((await fetch(`${base}/health`)).status).toBe(200)
    expect((await fetch(`${base}/missing`)).status).toBe(404)

    const url = `ws://127.0.0.1:${port}/collab`
    const a = yws(url, 'embedded')
    const b = hocus(url, 'embedded')
    await synced(a.provider)
    await synced(b.provider)
    a.doc.getText('t').insert(0, 'through the app server')
    await waitFor(() => text(b.doc) === 'through the app server', 'the edit to cross protocols')
  } finally {
    child.kill('SIGTERM')
  }
  expect(await exited).toBe(0)
})
