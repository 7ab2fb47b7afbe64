#!/usr/bin/env node
// Quick measurements of the core server (issue 2); the full benchmark tool comes later.
//
//   npm run build && node bench/core.mjs [--json]
//
// 1. load:    time to load a document with 20,000 edits of history (from the update log, and
//             from a compacted snapshot), as the server reports it and as a new client sees it.
// 2. acks:    acknowledged updates per second one Hocuspocus client can push (SQLite, default
//             synchronous=full, group commit), pipelined as fast as the socket allows.
// 3. latency: 5 clients each typing 10 edits/s for 10 s: end-to-end latency from one client's
//             send to each other client's receipt, p50/p99/max.
// Every server here is a real `collabd start` process on 127.0.0.1 with a fresh SQLite file.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { SqliteStore } from '../dist/index.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const json = process.argv.includes('--json')
const log = (...a) => { if (!json) console.error(...a) }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const until = async (predicate, what, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
const round = (n, d = 2) => Math.round(n * 10 ** d) / 10 ** d

async function startServer (env) {
  const proc = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'start'], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = []
  let buf = ''
  proc.stdout.on('data', (d) => {
    buf += d
    const parts = buf.split('\n')
    buf = parts.pop()
    for (const l of parts) { try { lines.push(JSON.parse(l)) } catch {} }
  })
  await until(() => lines.some((l) => l.msg === 'listening'), 'collabd to listen', 20_000)
  const port = lines.find((l) => l.msg === 'listening').port
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    lines,
    stop: async () => { proc.kill('SIGTERM'); await new Promise((resolve) => proc.on('exit', resolve)) },
  }
}

const frame = (address, build) => {
  const e = encoding.createEncoder()
  if (address !== null) encoding.writeVarString(e, address)
  build(e)
  return encoding.toUint8Array(e)
}

function openSocket (url, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.binaryType = 'nodebuffer'
    ws.on('message', onMessage)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

/** 20,000 single-character edits, as a user typing (with some deletions). */
function typingHistory (n) {
  const doc = new Y.Doc()
  const updates = []
  doc.on('update', (u) => updates.push(u))
  const t = doc.getText('t')
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) t.delete(t.length - 1, 1)
    else t.insert(t.length, String.fromCharCode(97 + (i % 26)))
  }
  return { doc, updates }
}

async function measureLoad (dir) {
  const file = path.join(dir, 'load.sqlite')
  const { doc, updates } = typingHistory(20_000)
  const store = new SqliteStore({ path: file, synchronous: 'normal' })
  await store.open()
  for (let i = 0; i < updates.length; i += 1000) {
    await store.append(updates.slice(i, i + 1000).map((update) => ({ document: 'from-log', update, userId: null })))
    await store.append(updates.slice(i, i + 1000).map((update) => ({ document: 'from-snapshot', update, userId: null })))
  }
  await store.compact('from-snapshot')
  await store.close()

  const results = {}
  for (const name of ['from-log', 'from-snapshot']) {
    const samples = []
    for (let run = 0; run < 5; run++) {
      // A fresh process each run: a cold load from the store, nothing cached.
      const server = await startServer({ DATABASE_URL: `sqlite:${file}`, COMPACT_AFTER_UPDATES: '1000000' })
      const start = performance.now()
      let synced = false
      const ws = await openSocket(`${server.url}/${name}`, (data) => { if (data[0] === 0 && data[1] === 1) synced = true })
      ws.send(frame(null, (e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, new Y.Doc()) }))
      await until(() => synced, 'the sync step 2')
      const clientMs = performance.now() - start
      const serverMs = server.lines.find((l) => l.msg === 'document loaded').ms
      ws.terminate()
      await server.stop()
      samples.push({ serverMs, clientMs })
    }
    const median = (k) => samples.map((s) => s[k]).sort((a, b) => a - b)[2]
    results[name] = { serverLoadMs: round(median('serverMs')), clientSyncedMs: round(median('clientMs')) }
  }
  results.textLength = doc.getText('t').length
  return results
}

async function measureAcks (dir, synchronous) {
  const server = await startServer({ DATABASE_URL: `sqlite:${path.join(dir, `acks-${synchronous}.sqlite`)}`, SQLITE_SYNCHRONOUS: synchronous })
  const name = 'acks'
  const N = 20_000
  const { updates } = typingHistory(N)
  const frames = updates.map((u) => frame(name, (e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, u) }))
  let acks = 0
  let authenticated = false
  const ws = await openSocket(server.url, (data) => {
    const type = data[name.length + 1]
    if (type === 2) authenticated = true
    else if (type === 8) acks++
  })
  ws.send(frame(name, (e) => { encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, ''); encoding.writeVarString(e, '4.8.0') }))
  await until(() => authenticated, 'Authenticated')
  const start = performance.now()
  for (const f of frames) ws.send(f)
  await until(() => acks >= N, 'every acknowledgement')
  const seconds = (performance.now() - start) / 1000
  ws.terminate()
  await server.stop()
  return { updates: N, seconds: round(seconds), acknowledgedPerSecond: Math.round(N / seconds) }
}

async function measureLatency (dir) {
  const server = await startServer({ DATABASE_URL: `sqlite:${path.join(dir, 'latency.sqlite')}` })
  const CLIENTS = 5
  const RATE = 10
  const SECONDS = 10
  const sentAt = new Map()
  const latencies = []
  const clients = []
  for (let i = 0; i < CLIENTS; i++) {
    const doc = new Y.Doc()
    const ws = await openSocket(`${server.url}/latency`, (data) => {
      if (data[0] !== 0 || data[1] !== 2) return
      const t = sentAt.get(Buffer.from(data).toString('base64'))
      if (t !== undefined) latencies.push(performance.now() - t)
    })
    clients.push({ doc, ws })
  }
  await sleep(200)
  const timers = clients.map(({ doc, ws }, i) => {
    doc.on('update', (u) => {
      const f = frame(null, (e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, u) })
      sentAt.set(Buffer.from(f).toString('base64'), performance.now())
      ws.send(f)
    })
    // Stagger the clients so they do not all type in the same millisecond.
    return new Promise((resolve) => setTimeout(() => {
      const timer = setInterval(() => doc.getText('t').insert(0, String(i)), 1000 / RATE)
      resolve(timer)
    }, i * (1000 / RATE / CLIENTS)))
  })
  const started = await Promise.all(timers)
  await sleep(SECONDS * 1000)
  for (const t of started) clearInterval(t)
  const expected = sentAt.size * (CLIENTS - 1)
  await until(() => latencies.length >= expected, 'every delivery', 10_000).catch(() => {})
  for (const { ws } of clients) ws.terminate()
  await server.stop()
  latencies.sort((a, b) => a - b)
  return {
    clients: CLIENTS,
    editsPerSecondEach: RATE,
    seconds: SECONDS,
    deliveries: latencies.length,
    lost: expected - latencies.length,
    p50Ms: round(pct(latencies, 0.5)),
    p99Ms: round(pct(latencies, 0.99)),
    maxMs: round(latencies[latencies.length - 1]),
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'collabd-bench-'))
try {
  log('measuring load of a 20,000-edit document...')
  const load = await measureLoad(dir)
  log('measuring acknowledged updates per second...')
  const acks = { full: await measureAcks(dir, 'full'), normal: await measureAcks(dir, 'normal') }
  log('measuring latency with 5 clients at 10 edits/s...')
  const latency = await measureLatency(dir)
  const result = { node: process.version, load, acks, latency }
  if (json) console.log(JSON.stringify(result, null, 2))
  else {
    console.log(`
Load of a 20,000-edit document (median of 5 cold starts; text length ${load.textLength})
  from the update log:      server ${load['from-log'].serverLoadMs} ms, client synced after ${load['from-log'].clientSyncedMs} ms
  from a snapshot:          server ${load['from-snapshot'].serverLoadMs} ms, client synced after ${load['from-snapshot'].clientSyncedMs} ms
Acknowledged updates/s, one Hocuspocus client, SQLite group commit (${acks.full.updates} updates)
  synchronous=full:         ${acks.full.acknowledgedPerSecond}/s
  synchronous=normal:       ${acks.normal.acknowledgedPerSecond}/s
End-to-end latency, ${latency.clients} clients x ${latency.editsPerSecondEach} edits/s for ${latency.seconds} s (${latency.deliveries} deliveries, ${latency.lost} lost)
  p50 ${latency.p50Ms} ms   p99 ${latency.p99Ms} ms   max ${latency.maxMs} ms
`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
