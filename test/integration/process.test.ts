/**
 * The real `collabd start` process: restarts, SIGTERM during edits, kill -9 during edits (on
 * SQLite and on PostgreSQL), a corrupted stored document, migrations, and what the command
 * refuses to do.
 */
import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { spawn, spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { editor, type Editor } from '../helpers/editors.js'
import { freshSchema, PG_BASE, type Schema } from '../helpers/postgres.js'
import { CLI, spawnServer, tempDir, type ServerProcess } from '../helpers/server.js'
import { prng, sleep, waitFor } from '../helpers/wait.js'

const running: ServerProcess[] = []
const dirs: Array<{ remove (): void }> = []
afterEach(async () => {
  destroyClients()
  for (const p of running.splice(0)) await p.stop('SIGKILL')
  for (const d of dirs.splice(0)) d.remove()
})

async function start (env: Record<string, string>): Promise<ServerProcess> {
  const p = await spawnServer(env)
  running.push(p)
  return p
}

function sqliteEnv (): { env: Record<string, string>, file: string } {
  const tmp = tempDir()
  dirs.push(tmp)
  const file = path.join(tmp.dir, 'collabd.sqlite')
  return { env: { DATABASE_URL: `sqlite:${file}` }, file }
}

/** Reads a document through a fresh y-websocket client. */
async function readDocument (url: string, name: string): Promise<string> {
  const reader = yws(url, name)
  await synced(reader.provider, `a reader of ${name} to sync`)
  return text(reader.doc)
}

describe('collabd start', () => {
  it('keeps documents across a restart', async () => {
    const { env } = sqliteEnv()
    const first = await start(env)
    const a = yws(first.url, 'restart-me')
    await synced(a.provider)
    a.doc.getText('t').insert(0, 'survives restarts')
    const h = hocus(first.url, 'restart-me-too')
    await synced(h.provider)
    h.doc.getText('t').insert(0, 'me too')
    await waitFor(() => h.provider.unsyncedChanges === 0, 'the hocuspocus edit to be acknowledged')
    await sleep(100) // let the y-websocket edit (which gets no acknowledgement) arrive
    const watcher = await raw(`${first.url}/restart-me`)
    expect(await first.stop('SIGTERM')).toBe(0)
    // 1012 "service restart": providers reconnect, to another instance if there is one.
    expect(await watcher.closed).toEqual({ code: 1012, reason: 'server restarting' })
    destroyClients()

    const second = await start(env)
    expect(await readDocument(second.url, 'restart-me')).toBe('survives restarts')
    expect(await readDocument(second.url, 'restart-me-too')).toBe('me too')
  })

  it('loses no acknowledged edit when stopped with SIGTERM while three clients edit, and exits 0', async () => {
    const { env } = sqliteEnv()
    const first = await start(env)
    const editors = await Promise.all(['a', 'b', 'c'].map((id) => editor(first.url, 'sigterm', id)))
    const typing = setInterval(() => { for (const e of editors) e.type() }, 2)
    await waitFor(() => editors.every((e) => e.acked() >= 50), 'some acknowledged edits from every client')
    const code = await first.stop('SIGTERM')
    clearInterval(typing)
    expect(code).toBe(0)
    expect(first.logs().some((l) => l.msg === 'shut down' && l.clean === true)).toBe(true)
    // Graceful: the drain acknowledged what was pending, so nearly everything typed before the
    // signal is acknowledged, not just what happened to be committed.
    const acked = editors.map((e) => e.ackedTokens())
    destroyClients()

    const second = await start(env)
    const content = await readDocument(second.url, 'sigterm')
    for (const tokens of acked) for (const token of tokens) expect(content).toContain(token)
  })

  it('loses no acknowledged edit when killed with SIGKILL at a random moment (several runs)', async () => {
    await killRuns(sqliteEnv().env, 3)
  })

  it('refuses to load a document whose stored snapshot is corrupt, leaves its bytes alone, and serves the others', async () => {
    const { env, file } = sqliteEnv()
    const first = await start(env)
    for (const name of ['victim', 'bystander']) {
      const c = yws(first.url, name)
      await synced(c.provider)
      c.doc.getText('t').insert(0, `${name} content`)
    }
    await sleep(100)
    expect(await first.stop('SIGTERM')).toBe(0) // unload compacts: both now have snapshots
    destroyClients()

    const db = new Database(file)
    const { snapshot } = db.prepare('SELECT snapshot FROM yjs_document WHERE name = ?').get('victim') as { snapshot: Buffer }
    const corrupt = Buffer.from(snapshot.subarray(0, Math.floor(snapshot.length / 2)))
    db.prepare('UPDATE yjs_document SET snapshot = ? WHERE name = ?').run(corrupt, 'victim')
    db.close()

    const second = await start({ ...env, DOCUMENT_UNLOAD_DELAY_MS: '100' })
    const victim = await raw(`${second.url}/victim`)
    const closed = await victim.closed
    expect(closed.code).toBe(1011)
    expect(closed.reason).toBe('document unavailable')
    const h = hocus(second.url, 'victim')
    await waitFor(() => second.logs().filter((l) => l.msg?.toString().includes('failed to decode')).length >= 2, 'both attempts logged')
    expect(h.provider.isAuthenticated).toBe(false)
    const logged = second.logs().find((l) => l.msg?.toString().includes('failed to decode'))!
    expect(logged).toMatchObject({ level: 'error', document: 'victim' })

    expect(await readDocument(second.url, 'bystander')).toBe('bystander content')
    expect(await second.stop('SIGTERM')).toBe(0)
    const check = new Database(file)
    const after = check.prepare('SELECT snapshot FROM yjs_document WHERE name = ?').get('victim') as { snapshot: Buffer }
    check.close()
    expect(Buffer.compare(after.snapshot, corrupt)).toBe(0)
  })

  it('refuses to start in production without authentication, and says what to set', () => {
    const r = spawnSync(process.execPath, [CLI, 'start'], { cwd: tmpdir(), env: { PATH: process.env.PATH, NODE_ENV: 'production', PORT: '0', DATABASE_URL: 'memory:' }, encoding: 'utf8', timeout: 10_000 })
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('ALLOW_ANONYMOUS=true')
  })

  it('starts in production when anonymous access is explicitly allowed', async () => {
    const p = await start({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true', DATABASE_URL: 'memory:' })
    expect((await fetch(`${p.httpUrl}/health`)).status).toBe(200)
    expect(await p.stop('SIGINT')).toBe(0)
  })

  it('explains itself with --help and rejects bad configuration', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' })
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/^  start /m)
    expect(help.stdout).toContain('DATABASE_URL')
    const bad = spawnSync(process.execPath, [CLI, 'start'], { env: { PATH: process.env.PATH, PORT: 'not-a-port' }, encoding: 'utf8' })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('PORT')
  })
})

/**
 * `runs` times: three clients type in bursts, the server is killed with SIGKILL at a random
 * moment, and a fresh server on the same data must have every acknowledged edit.
 */
async function killRuns (env: Record<string, string>, runs: number): Promise<void> {
  const random = prng(20261123)
  let totalAcked = 0
  for (let run = 0; run < runs; run++) {
    const server = await start(env)
    const doc = `kill-${run}`
    const editors: Editor[] = await Promise.all(['a', 'b', 'c'].map((id) => editor(server.url, doc, `${id}${run}`)))
    // Bursts of edits as fast as the clients can send them.
    const typing = setInterval(() => { for (const e of editors) for (let i = 0; i < 10; i++) e.type() }, 5)
    await sleep(300 + Math.floor(random() * 900))
    server.proc.kill('SIGKILL')
    await server.exited
    clearInterval(typing)
    const acked = editors.flatMap((e) => e.ackedTokens())
    const typed = editors.reduce((n, e) => n + e.typed.length, 0)
    totalAcked += acked.length
    expect(typed).toBeGreaterThan(1000)
    destroyClients()

    const after = await start(env)
    const content = await readDocument(after.url, doc)
    const missing = acked.filter((token) => !content.includes(token))
    expect(missing, `run ${run}: ${acked.length} acknowledged of ${typed} typed`).toEqual([])
    await after.stop('SIGTERM')
    destroyClients()
  }
  expect(totalAcked).toBeGreaterThan(300 * runs)
}

const schemas: Schema[] = []
afterAll(async () => {
  for (const schema of schemas) await schema.drop()
})

/** A fresh, empty schema in the test database, and the DATABASE_URL that uses it. */
async function pgEnv (): Promise<{ env: Record<string, string>, schema: string }> {
  const schema = await freshSchema('proc')
  schemas.push(schema)
  return { env: { DATABASE_URL: schema.url }, schema: schema.name }
}

describe('collabd start on PostgreSQL', () => {
  it('collabd migrate runs safely twice at once; without it, MIGRATE_ON_START=false refuses to start', async () => {
    const { env, schema } = await pgEnv()
    const refused = spawnSync(process.execPath, [CLI, 'start'], { cwd: tmpdir(), env: { PATH: process.env.PATH, PORT: '0', LOG_FORMAT: 'json', MIGRATE_ON_START: 'false', ...env }, encoding: 'utf8', timeout: 15_000 })
    expect(refused.status).not.toBe(0)
    expect(refused.stdout + refused.stderr).toContain('collabd migrate')
    const migrate = (): Promise<{ code: number | null, out: string }> => new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, 'migrate'], { cwd: tmpdir(), env: { PATH: process.env.PATH, ...env } })
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      child.stderr.on('data', (d: Buffer) => { out += d.toString() })
      child.on('exit', (code) => resolve({ code, out }))
    })
    const both = await Promise.all([migrate(), migrate()])
    expect(both.map((r) => r.code)).toEqual([0, 0])
    expect(both.map((r) => r.out).join('')).toContain('applied migrations 1, 2, 3')
    expect(both.map((r) => r.out).join('')).not.toContain('secret')
    const admin = new pg.Client({ connectionString: PG_BASE })
    await admin.connect()
    const { rows } = await admin.query(`SELECT version FROM ${schema}.collabd_migrations ORDER BY version`)
    await admin.end()
    expect(rows.map((r: { version: number }) => r.version)).toEqual([1, 2, 3])
    const server = await start({ ...env, MIGRATE_ON_START: 'false' })
    expect(server.logs().some((l) => l.msg === 'listening' && String(l.storage).startsWith('postgres'))).toBe(true)
  })

  it('collabd export and import move a document from SQLite to PostgreSQL, and refuse a file that is not a Yjs update', async () => {
    const sqlite = sqliteEnv()
    const source = await start(sqlite.env)
    const h = hocus(source.url, 'moving')
    await synced(h.provider)
    h.doc.getText('t').insert(0, 'moved between stores')
    await waitFor(() => h.provider.unsyncedChanges === 0, 'the edit to be acknowledged')
    expect(await source.stop('SIGTERM')).toBe(0)
    destroyClients()
    const file = path.join(path.dirname(sqlite.file), 'moving.yjs')
    const cli = (env: Record<string, string>, ...args: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, [CLI, ...args], { cwd: tmpdir(), env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 15_000 })
    expect(cli(sqlite.env, 'export', 'moving', file).status).toBe(0)
    expect(cli(sqlite.env, 'export', 'no-such-doc', file + '.none').status).toBe(1)
    const { env } = await pgEnv()
    expect(cli(env, 'migrate').status).toBe(0)
    expect(cli(env, 'import', 'moving', file).status).toBe(0)
    const junk = file + '.junk'
    writeFileSync(junk, 'not yjs at all')
    const refused = cli(env, 'import', 'other', junk)
    expect(refused.status).toBe(1)
    expect(String(refused.stderr)).toContain('not a Yjs update')
    const target = await start(env)
    expect(await readDocument(target.url, 'moving')).toBe('moved between stores')
  })

  it('keeps documents across a restart and loses no acknowledged edit to SIGKILL', async () => {
    const { env } = await pgEnv()
    const first = await start(env)
    const h = hocus(first.url, 'pg-restart')
    await synced(h.provider)
    h.doc.getText('t').insert(0, 'stored in postgres')
    await waitFor(() => h.provider.unsyncedChanges === 0, 'the edit to be acknowledged')
    expect(await first.stop('SIGTERM')).toBe(0)
    destroyClients()
    const second = await start(env)
    expect(await readDocument(second.url, 'pg-restart')).toBe('stored in postgres')
    await second.stop('SIGTERM')
    destroyClients()
    await killRuns(env, 2)
  })
})
