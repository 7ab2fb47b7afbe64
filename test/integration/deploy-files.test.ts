/**
 * The deployment files: the PM2 file runs under real PM2 (two instances, a reload); the systemd
 * unit is checked by systemd's own verifier (no systemd runs on the test machines to start it);
 * the Dockerfile cannot be built here (no Docker engine), so only its COPY sources are checked.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ENVIRONMENT } from '../../dist/index.js'
import { destroyClients, synced, text, yws } from '../helpers/clients.js'
import { freshSchema } from '../helpers/postgres.js'
import { requireProgram } from '../helpers/programs.js'
import { freePort, SHARED_REDIS_URL } from '../helpers/redis.js'
import { ROOT, spawnServer, tempDir } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const PM2 = path.join(ROOT, 'node_modules', '.bin', 'pm2')
const dirs: Array<{ remove (): void }> = []
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  destroyClients()
  for (const c of cleanups.splice(0).reverse()) await c() // last set up, first torn down
  for (const d of dirs.splice(0)) d.remove()
})

const defaultShutdownMs = Number(ENVIRONMENT.find((e) => e.name === 'SHUTDOWN_TIMEOUT_MS')!.default)

describe('deploy/collabd@.service', () => {
  it('passes systemd-analyze verify without a warning, and gives shutdown more time than collabd needs', (ctx) => {
    const systemdAnalyze = requireProgram(ctx, 'systemd-analyze')
    const tmp = tempDir()
    dirs.push(tmp)
    // verify needs an instance name for a template unit.
    copyFileSync(path.join(ROOT, 'deploy', 'collabd@.service'), path.join(tmp.dir, 'collabd@.service'))
    const result = spawnSync(systemdAnalyze, ['verify', '--man=no', './collabd@3001.service'], { cwd: tmp.dir, encoding: 'utf8' })
    expect(result.error).toBeUndefined()
    // It reports unknown keys and bad values as warnings with exit code 0: any output is a failure.
    expect(`${result.stdout}${result.stderr}`.trim()).toBe('')
    expect(result.status).toBe(0)
    const unit = readFileSync(path.join(ROOT, 'deploy', 'collabd@.service'), 'utf8')
    expect(Number(/TimeoutStopSec=(\d+)/.exec(unit)![1]) * 1000).toBeGreaterThan(defaultShutdownMs)
    expect(unit).toMatch(/ExecStart=\/usr\/bin\/node \/opt\/collabd\/dist\/cli\.js start/)
  })
})

describe('docs/deployment.md: management commands with the service\'s environment file', () => {
  it('runs collabd-admin as shown, with .env.example as the environment file: same store, and nothing created elsewhere', async () => {
    const docs = readFileSync(path.join(ROOT, 'docs', 'deployment.md'), 'utf8')
    const shown = /^cd \/var\/lib\/collabd && exec sudo -u collabd (.+)$/m.exec(docs)
    expect(shown, 'the collabd-admin helper in docs/deployment.md').not.toBeNull()
    const workDir = tempDir('collabd-var-lib-')
    dirs.push(workDir)
    // /etc/collabd/collabd.env as the docs make it: .env.example, then edited.
    const envFile = path.join(workDir.dir, '..', `${path.basename(workDir.dir)}.env`)
    cleanups.push(async () => { rmSync(envFile, { force: true }) })
    writeFileSync(envFile, `${readFileSync(path.join(ROOT, '.env.example'), 'utf8')}
DOCUMENT_NAME_PATTERN=^[a-z/]+$
JWT_SECRET='a-secret-with-a-$-sign-and-32-characters'
LOG_LEVEL=warn
`)
    // Without sudo (the tests run as one user); every path as the docs give it, mapped here.
    const command = shown![1]!
      .replace('/usr/bin/node', process.execPath)
      .replace('/etc/collabd/collabd.env', envFile)
      .replace('/opt/collabd/dist/cli.js', path.join(ROOT, 'dist', 'cli.js'))
    const admin = (cwd: string, ...args: string[]): ReturnType<typeof spawnSync> =>
      spawnSync('sh', ['-c', `cd "$0" && exec ${command}`, cwd, ...args], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 20_000 })

    // Nothing there yet: refused, nothing created.
    const early = admin(workDir.dir, 'access', 'team/plan')
    expect(early.status).toBe(2)
    expect(String(early.stderr)).toContain(`no collabd store at ${path.join(workDir.dir, 'data', 'collabd.sqlite')}`)
    expect(readdirSync(workDir.dir)).toEqual([])

    const server = await spawnServer({ WARM_UP: 'false', JWT_SECRET: 'a-secret-with-a-$-sign-and-32-characters' }, { cwd: workDir.dir })
    cleanups.push(async () => { await server.stop('SIGKILL') })
    const granted = admin(workDir.dir, 'grant', 'team/plan', 'alice', 'owner')
    expect(granted.status, String(granted.stderr)).toBe(0)
    expect(String(granted.stderr)).toContain(`collabd: store sqlite ${path.join(workDir.dir, 'data', 'collabd.sqlite')}`)
    expect(String(admin(workDir.dir, 'access', 'team/plan').stdout)).toMatch(/owner\s+alice/)
    // The file's DOCUMENT_NAME_PATTERN applies: the environment file was read.
    const refused = admin(workDir.dir, 'grant', 'Team-Plan', 'alice', 'owner')
    expect(refused.status).toBe(2)
    expect(String(refused.stderr)).toContain('DOCUMENT_NAME_PATTERN')
  })
})

describe('deploy/ecosystem.config.cjs', () => {
  interface App { name: string, namespace: string, script: string, args: string, cwd: string, exec_mode: string, kill_timeout: number, wait_ready: boolean, listen_timeout: number, env: Record<string, string> }
  const load = (ports: string): App[] => {
    const require = createRequire(import.meta.url)
    const file = path.join(ROOT, 'deploy', 'ecosystem.config.cjs')
    delete require.cache[file]
    const before = process.env.COLLABD_PORTS
    process.env.COLLABD_PORTS = ports
    try {
      return (require(file) as { apps: App[] }).apps
    } finally {
      if (before === undefined) delete process.env.COLLABD_PORTS
      else process.env.COLLABD_PORTS = before
    }
  }

  it('declares one fork-mode app per port in the namespace collabd, waiting for ready, with a kill timeout above the shutdown timeout', () => {
    const apps = load('3001,3002')
    expect(apps.map((a) => [a.name, a.namespace, a.env.PORT, a.exec_mode])).toEqual([['collabd-3001', 'collabd', '3001', 'fork'], ['collabd-3002', 'collabd', '3002', 'fork']])
    for (const app of apps) {
      expect(app.kill_timeout).toBeGreaterThan(defaultShutdownMs)
      expect(app.wait_ready).toBe(true)
      expect(app.listen_timeout).toBeGreaterThan(5000)
      expect(existsSync(path.join(app.cwd, app.script))).toBe(true)
    }
    expect(load('3001').map((a) => a.name)).toEqual(['collabd'])
    // The commands the file and docs/deployment.md give address these apps.
    const docs = readFileSync(path.join(ROOT, 'deploy', 'ecosystem.config.cjs'), 'utf8') + readFileSync(path.join(ROOT, 'docs', 'deployment.md'), 'utf8')
    for (const [, target] of docs.matchAll(/pm2 (?:reload|restart|stop|logs) ([\w-]+)/g)) expect(['collabd', 'all', 'collabd-3001', 'collabd-3002']).toContain(target)
  })

  it('runs under real PM2: two fork-mode instances on PostgreSQL and Redis, and `pm2 reload collabd` restarts them one after the other while their clients keep syncing', async () => {
    const pm2Home = tempDir('collabd-pm2-')
    dirs.push(pm2Home)
    const schema = await freshSchema('pm2')
    cleanups.push(schema.drop)
    const ports = [await freePort(), await freePort()]
    const env = {
      PATH: process.env.PATH ?? '',
      PM2_HOME: pm2Home.dir,
      COLLABD_PORTS: ports.join(','),
      DATABASE_URL: schema.url,
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_PREFIX: `collabd-pm2:${process.pid}:`,
      ALLOW_ANONYMOUS: 'true',
      WARM_UP: 'false',
    }
    const pm2 = (...args: string[]): string => {
      const r = spawnSync(PM2, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 })
      if (r.status !== 0) throw new Error(`pm2 ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`)
      return r.stdout
    }
    cleanups.push(async () => { spawnSync(PM2, ['kill'], { env, timeout: 30_000 }) })
    pm2('start', 'deploy/ecosystem.config.cjs')
    const healthy = async (port: number): Promise<boolean> => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200
    await waitFor(async () => await healthy(ports[0]!) && await healthy(ports[1]!), 'both PM2 instances to answer /health', 20_000, 100)
    const pids = (): number[] => (JSON.parse(pm2('jlist')) as Array<{ pid: number }>).map((p) => p.pid)
    const before = pids()
    expect(before).toHaveLength(2)

    const a = yws(`ws://127.0.0.1:${ports[0]}/ws`, 'pm2-doc')
    const b = yws(`ws://127.0.0.1:${ports[1]}/ws`, 'pm2-doc')
    await synced(a.provider)
    await synced(b.provider)
    a.doc.getText('t').insert(0, 'before reload. ')
    await waitFor(() => text(b.doc) === 'before reload. ', 'the edit to cross instances under PM2')

    pm2('reload', 'collabd')
    const after = pids()
    expect(after.every((pid, i) => pid !== before[i] && pid > 0)).toBe(true)
    await waitFor(async () => await healthy(ports[0]!) && await healthy(ports[1]!), 'both instances back after the reload', 20_000, 100)
    b.doc.getText('t').insert(0, 'after reload. ')
    await waitFor(() => text(a.doc) === 'after reload. before reload. ', 'clients to reconnect and sync after the reload', 20_000)
    // Both processes stopped cleanly during the reload (PM2 sent SIGINT; collabd drained and exited).
    const logs = readdirSync(path.join(pm2Home.dir, 'logs')).filter((f) => f.endsWith('-out.log')).map((f) => readFileSync(path.join(pm2Home.dir, 'logs', f), 'utf8')).join('')
    expect(logs.match(/"msg":"shut down"/g)?.length).toBe(2)
    expect(logs).not.toMatch(/"clean":false/)
    // One after the other (wait_ready): the second old process was stopped only once the
    // first new one listened, so one instance was up throughout.
    const lines = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string, pid: number, time: string })
    const stops = lines.filter((l) => l.msg === 'stopping').sort((x, y) => x.time.localeCompare(y.time))
    expect(stops.map((l) => l.pid).sort()).toEqual([...before].sort())
    const firstRestarted = after[before.indexOf(stops[0]!.pid)]
    const firstBack = lines.find((l) => l.msg === 'listening' && l.pid === firstRestarted)!
    expect(firstBack.time < stops[1]!.time, `new ${firstRestarted} listening at ${firstBack.time}, old ${stops[1]!.pid} stopping at ${stops[1]!.time}`).toBe(true)
  }, 90_000)
})

describe('Dockerfile', () => {
  it('copies only files that exist (it cannot be built here: no Docker engine)', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/))
    expect(sources.length).toBeGreaterThan(3)
    for (const s of sources) expect(existsSync(path.join(ROOT, s)), s).toBe(true)
  })
})
