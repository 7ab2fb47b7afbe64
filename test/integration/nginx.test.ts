/**
 * deploy/nginx.conf, run for real: a real nginx (Debian's package; .ci/run installs it; skipped
 * with the reason where nginx or openssl is missing) with a
 * throwaway certificate in front of two collabd instances sharing PostgreSQL and Redis. Clients
 * of both protocols connect over wss:// through it, land on different instances and sync; an
 * instance stopped with SIGTERM sends its client through nginx to the other one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import * as https from 'node:https'
import * as http from 'node:http'
import * as path from 'node:path'
import { afterAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { PostgresStore } from '../../dist/index.js'
import { destroyClients, hocus, synced, text, yws } from '../helpers/clients.js'
import { freshSchema, type Schema } from '../helpers/postgres.js'
import { requireProgram } from '../helpers/programs.js'
import { freePort, SHARED_REDIS_URL } from '../helpers/redis.js'
import { ROOT, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

let schema: Schema | null = null

/** ws that accepts the test's self-signed certificate (what a browser would after trusting it). */
const InsecureWebSocket = class extends WebSocket {
  constructor (url: string, protocols?: string | string[]) {
    super(url, protocols ?? [], { rejectUnauthorized: false })
  }
} as typeof WebSocket

const servers: TestServer[] = []
let nginx: ChildProcess | null = null
const dir = tempDir('collabd-nginx-')

afterAll(async () => {
  destroyClients()
  nginx?.kill('SIGTERM')
  for (const s of servers) await s.close()
  dir.remove()
  await schema?.drop()
})

/** deploy/nginx.conf with only the ports, addresses, certificate and log paths of this test. */
function renderConfig (upstreams: number[], httpPort: number, httpsPort: number): string {
  let conf = readFileSync(path.join(ROOT, 'deploy', 'nginx.conf'), 'utf8')
  const replace = (from: string | RegExp, to: string): void => {
    const next = conf.replace(from, to)
    if (next === conf) throw new Error(`deploy/nginx.conf no longer contains ${String(from)}; update this test`)
    conf = next
  }
  replace('server 127.0.0.1:3001 ', `server 127.0.0.1:${upstreams[0]} `)
  replace('server 127.0.0.1:3002 ', `server 127.0.0.1:${upstreams[1]} `)
  replace(/listen 80;\n\s*listen \[::\]:80;/, `listen 127.0.0.1:${httpPort};`)
  replace(/listen 443 ssl;\n\s*listen \[::\]:443 ssl;/, `listen 127.0.0.1:${httpsPort} ssl;`)
  replace('/etc/letsencrypt/live/collab.example.com/fullchain.pem', path.join(dir.dir, 'cert.pem'))
  replace('/etc/letsencrypt/live/collab.example.com/privkey.pem', path.join(dir.dir, 'key.pem'))
  replace('/var/log/nginx/collabd.access.log', path.join(dir.dir, 'access.log'))
  return conf
}

function get (url: string): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http
    lib.get(url, { rejectUnauthorized: false }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    }).on('error', reject)
  })
}

it('syncs clients of both protocols over wss:// through deploy/nginx.conf to two instances, and moves a client when its instance stops', async (ctx) => {
  const nginxProgram = requireProgram(ctx, 'nginx')
  const openssl = requireProgram(ctx, 'openssl')
  schema = await freshSchema('nginx')
  const databaseUrl = schema.url
  const prefix = `collabd-nginx:${process.pid}:`
  for (let i = 0; i < 2; i++) {
    servers.push(await startServer({
      store: new PostgresStore({ url: databaseUrl, poolSize: 3, migrate: true }),
      env: { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix },
    }))
  }
  const cert = spawnSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', path.join(dir.dir, 'key.pem'), '-out', path.join(dir.dir, 'cert.pem')], { encoding: 'utf8' })
  expect(cert.status, cert.stderr).toBe(0)
  const [httpPort, httpsPort] = [await freePort(), await freePort()]
  writeFileSync(path.join(dir.dir, 'collabd.conf'), renderConfig(servers.map((s) => s.port), httpPort, httpsPort))
  // The main file a distribution's nginx.conf would be, reduced to what a non-system run needs.
  writeFileSync(path.join(dir.dir, 'nginx.conf'), `daemon off;
pid ${dir.dir}/nginx.pid;
error_log ${dir.dir}/error.log warn;
events { worker_connections 256; }
http {
  client_body_temp_path ${dir.dir}/body;
  proxy_temp_path ${dir.dir}/proxy;
  fastcgi_temp_path ${dir.dir}/fastcgi;
  uwsgi_temp_path ${dir.dir}/uwsgi;
  scgi_temp_path ${dir.dir}/scgi;
  include ${dir.dir}/collabd.conf;
}
`)
  const check = spawnSync(nginxProgram, ['-t', '-p', dir.dir, '-c', path.join(dir.dir, 'nginx.conf')], { encoding: 'utf8' })
  expect(check.status, check.stderr).toBe(0)
  nginx = spawn(nginxProgram, ['-p', dir.dir, '-c', path.join(dir.dir, 'nginx.conf')], { stdio: 'ignore' })
  await waitFor(async () => (await get(`https://127.0.0.1:${httpsPort}/health`).catch(() => ({ status: 0 }))).status === 200, 'nginx to proxy /health', 10_000, 50)

  const redirect = await get(`http://127.0.0.1:${httpPort}/ws`)
  expect(redirect.status).toBe(301)
  expect(redirect.headers.location).toBe(`https://127.0.0.1/ws`)

  const url = `wss://127.0.0.1:${httpsPort}/ws`
  const ann = yws(url, 'through-nginx', { webSocket: InsecureWebSocket, params: { token: 'secret-in-query' } })
  await synced(ann.provider, 'a y-websocket client to sync through nginx')
  const annsInstance = servers.find((s) => s.server.activeConnections === 1)!
  const bob = hocus(url, 'through-nginx', { webSocket: InsecureWebSocket })
  await synced(bob.provider, 'a Hocuspocus client to sync through nginx')
  // least_conn put them on different instances: what crosses between them goes through Redis.
  expect(servers.map((s) => s.server.activeConnections)).toEqual([1, 1])
  ann.doc.getText('t').insert(0, 'from Ann. ')
  bob.doc.getText('t').insert(0, 'from Bob. ')
  await waitFor(() => text(ann.doc) === text(bob.doc) && text(ann.doc).length === 20, 'both edits on both clients')
  await waitFor(() => bob.provider.unsyncedChanges === 0, 'Bob\'s edit to be acknowledged through nginx')

  // Zero-downtime restart: the instance holding Ann stops (1012); her provider reconnects
  // through nginx, which sends her to the instance still running.
  const other = servers.find((s) => s !== annsInstance)!
  await annsInstance.close()
  await waitFor(() => other.server.activeConnections === 2, 'both clients on the remaining instance', 15_000)
  bob.doc.getText('t').insert(0, 'after. ')
  ann.doc.getText('t').insert(ann.doc.getText('t').length, 'end.')
  await waitFor(() => text(ann.doc) === text(bob.doc) && text(ann.doc).startsWith('after. ') && text(ann.doc).endsWith('end.'), 'edits after the restart on both clients')

  const accessLog = readFileSync(path.join(dir.dir, 'access.log'), 'utf8')
  expect(accessLog).toContain('GET /ws/through-nginx HTTP/1.1')
  expect(accessLog).not.toContain('secret-in-query') // the deploy config keeps query strings out of the log
}, 60_000)
