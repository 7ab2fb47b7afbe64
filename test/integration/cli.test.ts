/**
 * The first hour with the `collabd` command, as real processes: one server per SQLite file
 * (refused while another holds it, free again after kill -9), commands that never create a
 * store, start-up failures as one sentence naming the setting, per-command help, and the
 * readiness messages process managers wait for (PM2's IPC 'ready', systemd's READY=1).
 */
import Database from 'better-sqlite3'
import { fork, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ENVIRONMENT } from '../../dist/index.js'
import { destroyClients, hocus, synced } from '../helpers/clients.js'
import { PG_BASE } from '../helpers/postgres.js'
import { freePort } from '../helpers/redis.js'
import { CLI, spawnServer, startServer, tempDir, type ServerProcess, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const running: ServerProcess[] = []
const inProcess: TestServer[] = []
const cleanups: Array<() => void> = []
afterEach(async () => {
  destroyClients()
  for (const p of running.splice(0)) await p.stop('SIGKILL')
  for (const s of inProcess.splice(0)) await s.close()
  for (const c of cleanups.splice(0)) c()
})

function dir (): string {
  const tmp = tempDir('collabd-cli-')
  cleanups.push(() => tmp.remove())
  return tmp.dir
}

/** Runs `collabd ...args` to completion in `cwd` with only `env` (and PATH). */
function cli (cwd: string, env: Record<string, string>, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', WARM_UP: 'false', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  })
}

async function serve (cwd: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const p = await spawnServer({ WARM_UP: 'false', ...env }, { cwd })
  running.push(p)
  return p
}

/** stderr as lines, without empty ones. */
const errLines = (r: SpawnSyncReturns<string>): string[] => r.stderr.split('\n').filter((l) => l.trim() !== '')

/** A failed start: one sentence on stderr, no stack, and no log line claiming a shutdown. */
function expectOneSentence (r: SpawnSyncReturns<string>, ...mentions: string[]): string {
  const lines = errLines(r)
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^collabd: /)
  for (const m of mentions) expect(lines[0]).toContain(m)
  expect(r.stderr).not.toMatch(/^\s+at /m)
  expect(r.stdout).not.toContain('"msg":"shut down"')
  expect(r.stdout).not.toContain('"msg":"shutting down"')
  return lines[0]!
}

describe('one SQLite file, one server', () => {
  it('refuses a second server on the file, keeps the management commands working beside the first, and frees the file when the first is killed with -9', async () => {
    const cwd = dir()
    const first = await serve(cwd)
    expect(existsSync(path.join(cwd, 'data', 'collabd.sqlite'))).toBe(true) // fresh clone: data/ is created

    const second = cli(cwd, { PORT: '0' }, 'start')
    expect(second.status).toBe(1)
    const sentence = expectOneSentence(second, 'another collabd is already serving', 'data/collabd.sqlite', `pid ${first.proc.pid}`)
    expect(sentence).not.toContain('\n')
    expect((await fetch(`${first.httpUrl}/health`)).status).toBe(200)

    // docs/cli.md's promise: grants, export and import work while the server runs on the file.
    const h = hocus(first.url, 'beside')
    await synced(h.provider)
    h.doc.getText('t').insert(0, 'written through the server')
    await waitFor(() => h.provider.unsyncedChanges === 0, 'the edit to be acknowledged')
    expect(cli(cwd, {}, 'grant', 'beside', 'ann', 'editor').status).toBe(0)
    const access = cli(cwd, {}, 'access', 'beside')
    expect(access.status).toBe(0)
    expect(access.stdout).toMatch(/editor\s+ann/)
    expect(access.stderr).toContain(`collabd: store sqlite ${path.join(cwd, 'data', 'collabd.sqlite')}`)
    const file = path.join(cwd, 'beside.yjs')
    expect(cli(cwd, {}, 'export', 'beside', file).status).toBe(0)
    expect(cli(cwd, {}, 'import', 'copy', file).status).toBe(0)

    first.proc.kill('SIGKILL')
    await first.exited
    // No stale lock: the kernel dropped it with the process.
    const third = await serve(cwd)
    const reader = hocus(third.url, 'copy')
    await synced(reader.provider)
    expect(reader.doc.getText('t').toString()).toBe('written through the server')
  })

  it('refuses a second store on the file in the same process too, and gives the file back on close', async () => {
    const cwd = dir()
    const { SqliteStore, StoreRefusedError } = await import('../../dist/index.js')
    const file = path.join(cwd, 'one.sqlite')
    const a = new SqliteStore({ path: file, synchronous: 'full' })
    await a.open()
    const b = new SqliteStore({ path: file, synchronous: 'full' })
    await expect(b.open()).rejects.toBeInstanceOf(StoreRefusedError)
    // A process outside sees the holder's pid.
    const outside = cli(cwd, { DATABASE_URL: `sqlite:${file}`, PORT: '0' }, 'start')
    expect(outside.stderr).toContain(`pid ${process.pid}`)
    await a.close()
    const c = new SqliteStore({ path: file, synchronous: 'full' })
    await c.open()
    await c.close()
  })

  it('refuses REDIS_URL with a SQLite or memory store, naming REDIS_URL and DATABASE_URL', () => {
    const cwd = dir()
    const envs: Array<Record<string, string>> = [{ REDIS_URL: 'redis://127.0.0.1:6379' }, { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'memory:' }, { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: `sqlite:${path.join(cwd, 'x.sqlite')}` }]
    for (const env of envs) {
      const r = cli(cwd, { PORT: '0', ...env }, 'start')
      expect(r.status).toBe(2)
      expectOneSentence(r, 'REDIS_URL', 'DATABASE_URL', 'PostgreSQL')
    }
    expect(readdirSync(cwd)).toEqual([])
  })
})

describe('commands that read or manage never create a store', () => {
  it('refuse a store that does not exist, say which one they looked for, and create nothing', () => {
    const cwd = dir()
    writeFileSync(path.join(cwd, 'update.yjs'), Buffer.from([0, 0]))
    const commands = [['access', 'doc'], ['grant', 'doc', 'ann', 'editor'], ['revoke', 'doc', 'ann'], ['export', 'doc'], ['import', 'doc', 'update.yjs'], ['migrate']]
    for (const args of commands) {
      const r = cli(cwd, {}, ...args)
      expect(r.status, args.join(' ')).toBe(2)
      expectOneSentence(r, 'no collabd store', path.join(cwd, 'data', 'collabd.sqlite'), 'DATABASE_URL')
      expect(r.stdout).toBe('')
    }
    expect(readdirSync(cwd)).toEqual(['update.yjs'])

    const elsewhere = '/nonexistent-collabd-test/dir/x.sqlite'
    const r = cli(cwd, { DATABASE_URL: `sqlite:${elsewhere}` }, 'access', 'doc')
    expect(r.status).toBe(2)
    expectOneSentence(r, elsewhere)
    expect(existsSync('/nonexistent-collabd-test')).toBe(false)
  })

  it('collabd start creates a store file in a folder that exists, never the folders a user typed', async () => {
    const cwd = dir()
    const typed = path.join(cwd, 'typo', 'deeper', 'x.sqlite')
    const refused = cli(cwd, { DATABASE_URL: `sqlite:${typed}`, PORT: '0' }, 'start')
    expect(refused.status).toBe(2)
    expectOneSentence(refused, path.join(cwd, 'typo', 'deeper'), 'does not exist')
    expect(existsSync(path.join(cwd, 'typo'))).toBe(false)

    mkdirSync(path.join(cwd, 'mine'))
    const file = path.join(cwd, 'mine', 'store.sqlite')
    const p = await serve(cwd, { DATABASE_URL: `sqlite:${file}`, JWT_SECRET: 'a-secret-that-is-at-least-32-characters-long' })
    expect(existsSync(file)).toBe(true)
    // The first line says which store and which authentication.
    const first = p.logs()[0]!
    expect(first.msg).toBe('starting')
    expect(first.storage).toBe(`sqlite ${file} (synchronous=full)`)
    expect(String(first.authentication)).toContain('JWT')
    expect(JSON.stringify(p.logs())).not.toContain('a-secret-that-is-at-least-32')
  })

  it('refuse a file that is not a collabd store, and leave its bytes alone', () => {
    const cwd = dir()
    const text = path.join(cwd, 'notes.sqlite')
    writeFileSync(text, 'not a database at all\n')
    const foreign = path.join(cwd, 'app.sqlite')
    const db = new Database(foreign)
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES (\'ann\')')
    db.close()
    for (const file of [text, foreign]) {
      const before = readFileSync(file)
      for (const args of [['start'], ['access', 'doc'], ['migrate']]) {
        const r = cli(cwd, { DATABASE_URL: `sqlite:${file}`, PORT: '0' }, ...args)
        expect(r.status, `${args[0]} on ${file}`).toBe(2)
        expectOneSentence(r, file, 'not a collabd store')
      }
      expect(Buffer.compare(readFileSync(file), before)).toBe(0)
    }
    expect(readdirSync(cwd).sort()).toEqual(['app.sqlite', 'notes.sqlite'])
  })
})

describe('start-up failures', () => {
  it('a PostgreSQL that refuses, and a database that does not exist: one sentence naming DATABASE_URL, no password', async () => {
    const cwd = dir()
    const closedPort = await freePort()
    const refused = cli(cwd, { PORT: '0', DATABASE_URL: `postgres://collabd:hunter2@127.0.0.1:${closedPort}/collabd` }, 'start')
    expect(refused.status).toBe(1)
    expectOneSentence(refused, 'DATABASE_URL', `127.0.0.1:${closedPort}`, 'refused')
    const missing = new URL(PG_BASE)
    missing.pathname = '/collabd_no_such_database'
    missing.password = 'hunter2'
    const unknown = cli(cwd, { PORT: '0', DATABASE_URL: missing.toString() }, 'start')
    expect(unknown.status).toBe(2)
    expectOneSentence(unknown, 'DATABASE_URL', '"collabd_no_such_database"', 'does not exist')
    for (const r of [refused, unknown]) expect(r.stdout + r.stderr).not.toContain('hunter2')
  })

  it('a port in use names PORT or HEALTH_PORT; LOG_LEVEL=debug adds the stack', async () => {
    const cwd = dir()
    const taken = net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => taken.close())
    const port = String((taken.address() as net.AddressInfo).port)
    const main = cli(cwd, { DATABASE_URL: 'memory:', HOST: '127.0.0.1', PORT: port }, 'start')
    expect(main.status).toBe(1)
    expectOneSentence(main, `PORT=${port}`, 'already in use')
    const health = cli(cwd, { DATABASE_URL: 'memory:', HOST: '127.0.0.1', PORT: '0', HEALTH_PORT: port }, 'start')
    expect(health.status).toBe(1)
    expectOneSentence(health, `HEALTH_PORT=${port}`, 'already in use')
    const debug = cli(cwd, { DATABASE_URL: 'memory:', HOST: '127.0.0.1', PORT: port, LOG_LEVEL: 'debug' }, 'start')
    expect(debug.stderr).toContain(`PORT=${port} is already in use`)
    expect(debug.stderr).toMatch(/^\s+at /m)
  })

  it('production without authentication: one sentence naming JWT_SECRET, BETTER_AUTH_SECRET and ALLOW_ANONYMOUS, printed once', () => {
    const r = cli(dir(), { NODE_ENV: 'production', PORT: '0', DATABASE_URL: 'memory:' }, 'start')
    expect(r.status).toBe(2)
    expectOneSentence(r, 'JWT_SECRET', 'BETTER_AUTH_SECRET', 'ALLOW_ANONYMOUS')
    // Not once more in a log line.
    expect(r.stdout).not.toContain('ALLOW_ANONYMOUS')
    expect(r.stdout).not.toContain('"level":"fatal"')
  })

  it('configuration messages say what is wanted', () => {
    const r = cli(dir(), { PORT: 'abc', WARM_UP: 'maybe', LOG_FORMAT: 'xml', MAX_CONNECTIONS: '0' }, 'start')
    expect(r.status).toBe(2)
    expect(errLines(r)).toEqual([
      'collabd: PORT must be a whole number from 0 to 65535 (got "abc")',
      'collabd: MAX_CONNECTIONS must be a positive whole number (got "0")',
      'collabd: WARM_UP must be true or false (got "maybe")',
      'collabd: LOG_FORMAT must be one of json, pretty, auto (got "xml")',
    ])
  })
})

describe('the command line', () => {
  it('prints one command\'s help for `collabd <command> --help` and `collabd help <command>`', () => {
    const cwd = dir()
    for (const args of [['grant', '--help'], ['help', 'grant'], ['grant', '-h']]) {
      const r = cli(cwd, {}, ...args)
      expect(r.status).toBe(0)
      expect(r.stdout).toMatch(/^Usage: collabd grant DOC USER ROLE\n/)
      expect(r.stdout).toContain('Exit codes:')
      expect(r.stdout).not.toContain('HEARTBEAT_INTERVAL_MS')
      expect(r.stdout.split('\n').length).toBeLessThan(25)
    }
    const all = cli(cwd, {}, '--help')
    expect(all.status).toBe(0)
    for (const s of ENVIRONMENT) expect(all.stdout).toContain(s.name)
    expect(all.stdout).toMatch(/^ {2}2 {2}usage or configuration/m)
    expect(readdirSync(cwd)).toEqual([])
  })

  it('answers an unknown command or option with a short error and the list of commands, exit 2', () => {
    const cwd = dir()
    for (const args of [['strat'], ['start', '--port', '3000'], []]) {
      const r = cli(cwd, {}, ...args)
      expect(r.status, args.join(' ')).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(/^collabd: (unknown command "strat"|unknown option '--port'|which command\?)\n/)
      expect(r.stderr).toMatch(/^ {2}grant DOC USER ROLE /m)
      expect(r.stderr).not.toContain('HEARTBEAT_INTERVAL_MS')
      expect(r.stderr.split('\n').length).toBeLessThan(16)
    }
  })

  it('reports file errors in one line with exit 1: import of a missing file, export to a folder that does not exist', async () => {
    const cwd = dir()
    const p = await serve(cwd)
    const h = hocus(p.url, 'doc')
    await synced(h.provider)
    h.doc.getText('t').insert(0, 'x')
    await waitFor(() => h.provider.unsyncedChanges === 0, 'the edit to be acknowledged')
    const missing = cli(cwd, {}, 'import', 'doc', 'no-such-file.yjs')
    expect(missing.status).toBe(1)
    expectOneSentence(missing, 'cannot read no-such-file.yjs: no such file or directory')
    const unwritable = cli(cwd, {}, 'export', 'doc', path.join(cwd, 'no-such-folder', 'doc.yjs'))
    expect(unwritable.status).toBe(1)
    expect(errLines(unwritable)).toEqual([`collabd: store sqlite ${path.join(cwd, 'data', 'collabd.sqlite')}`, `collabd: cannot write ${path.join(cwd, 'no-such-folder', 'doc.yjs')}: no such file or directory`])
    const extra = cli(cwd, {}, 'access', 'doc', 'surplus')
    expect(extra.status).toBe(2)
    expectOneSentence(extra, 'too many arguments', 'collabd access DOC')
  })
})

describe('telling process managers it listens', () => {
  it('a forked collabd sends \'ready\' over IPC once it listens (PM2 wait_ready)', async () => {
    const child = fork(CLI, ['start'], {
      cwd: dir(),
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', DATABASE_URL: 'memory:', LOG_FORMAT: 'json', WARM_UP: 'false' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    cleanups.push(() => child.kill('SIGKILL'))
    let port: number | null = null
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.includes('"msg":"listening"')) port = (JSON.parse(line) as { port: number }).port
    })
    const ready = await new Promise<{ message: unknown, healthy: Promise<number> }>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`collabd exited with ${code} before 'ready'`)))
      child.once('message', (message) => resolve({ message, healthy: port === null ? Promise.resolve(0) : fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status) }))
    })
    expect(ready.message).toBe('ready')
    expect(port).not.toBeNull() // the 'listening' line came first
    expect(await ready.healthy).toBe(200)
  })

  it('under systemd (NOTIFY_SOCKET) it sends READY=1 through systemd-notify once it listens', async () => {
    const cwd = dir()
    expect(spawnSync('python3', ['--version']).error, 'python3 is missing (it plays systemd\'s notify socket here)').toBeUndefined()
    expect(spawnSync('systemd-notify', ['--help']).error, 'systemd-notify is missing (Debian package systemd)').toBeUndefined()
    const socket = path.join(cwd, 'notify.sock')
    // systemd's side of the protocol: datagrams, and a barrier whose passed file descriptor
    // must be closed for systemd-notify to return.
    const receiver = spawn('python3', ['-c', `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('bound', flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array('i'); fds.frombytes(data[:len(data) - len(data) % 4])
            for fd in fds: os.close(fd)
    print(msg.decode(), flush=True)
`, socket], { stdio: ['ignore', 'pipe', 'inherit'] })
    cleanups.push(() => receiver.kill('SIGKILL'))
    const messages: string[] = []
    receiver.stdout.on('data', (chunk: Buffer) => messages.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')))
    await waitFor(() => messages.includes('bound'), 'the notify socket to be bound')
    const p = await serve(cwd, { DATABASE_URL: 'memory:', NOTIFY_SOCKET: socket, LOG_LEVEL: 'debug' })
    await waitFor(() => messages.includes('READY=1'), 'READY=1 on the notify socket')
    await waitFor(() => p.logs().some((l) => l.msg === 'told systemd: ready'), 'systemd-notify to return (the barrier)')
    const listening = p.logs().findIndex((l) => l.msg === 'listening')
    expect(listening).toBeGreaterThanOrEqual(0)
    expect(listening).toBeLessThan(p.logs().findIndex((l) => l.msg === 'told systemd: ready'))
  })
})

describe('library mode', () => {
  it('logs where it listens, as the command does', async () => {
    const s = await startServer({ config: { logLevel: 'info' } })
    inProcess.push(s)
    expect(s.logs.find((l) => l.msg === 'listening')).toMatchObject({ port: s.port, host: '127.0.0.1', wsPath: '/ws', storage: 'memory' })
  })
})
