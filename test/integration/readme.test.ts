/**
 * The README's code blocks run as a reader would run them, against a real `collabd start`
 * (and docs/configuration.md's, whose library snippets start servers of their own), so a
 * snippet copied literally works: a missing import or a provider without a WebSocket class in
 * Node.js fails here.
 *
 * The convention (docs/development.md): every fenced block runs unless the line before it is
 * `<!-- not run: <reason> -->`. Blocks are written for `localhost:3001`; here they go to the
 * test's server.
 * - A shell block runs line by line: `VAR=value ... npm start` (re)starts the server with those
 *   variables, `curl ...` runs for real; any other command fails the test (mark the block).
 * - A JavaScript block is a module in a scratch folder inside the repository (so it imports the
 *   clone's packages, and `collabd` itself), with the variables of the last `npm start` in its
 *   environment. Browser code (providers, no `ws` import) gets `ws`'s WebSocket as the global a
 *   browser has. A block must exit 0 by itself, or, if it keeps running: one that creates
 *   providers is done once the server logged each of them `connected` (none refused), one that
 *   calls `createServer` once its `/health` answers 200 on its own port, after which it is sent
 *   SIGTERM and must exit.
 * Some blocks have a further expectation (EXPECTATIONS), e.g. the token-minting example's token
 * is accepted by the server the README's `JWT_SECRET=... npm start` started.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import { afterAll, describe, expect, it, type TestContext } from 'vitest'
import { destroyClients, hocus, synced } from '../helpers/clients.js'
import { requireProgram } from '../helpers/programs.js'
import { freePort } from '../helpers/redis.js'
import { ROOT, spawnServer, tempDir, type ServerProcess } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

interface Block {
  readonly file: string
  /** 1-based line of the opening fence. */
  readonly line: number
  readonly lang: string
  readonly code: string
  /** The reason given in `<!-- not run: ... -->`, or null when the block runs. */
  readonly notRun: string | null
}

const FILES = ['README.md', 'docs/configuration.md']

/** The fenced blocks of a Markdown file. */
function blocksOf (file: string): Block[] {
  const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!)
    if (open === null) continue
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'))
    if (end === -1) throw new Error(`${file}:${i + 1}: unclosed code block`)
    const marker = /^<!-- not run: (.*?) -->$/.exec(lines[i - 1] ?? '')
    blocks.push({ file, line: i + 1, lang: open[1]!, code: lines.slice(i + 1, end).join('\n') + '\n', notRun: marker === null ? null : marker[1]!.trim() })
    i = end
  }
  return blocks
}

/** Further checks of particular blocks; each must find its block, so renaming one cannot silently drop it. */
const EXPECTATIONS: ReadonlyArray<{ readonly block: RegExp, readonly stdout?: RegExp, readonly token?: true }> = [
  // `curl /health`: the server is up and says so.
  { block: /^curl .*\/health$/m, stdout: /"status":"healthy"/ },
  // The two clients of "Check it works" see each other's edit.
  { block: /Bob sees/, stdout: /^Bob sees: Hi from Ann$/m },
  // The Hocuspocus snippet reports its edits saved: the acknowledgement after the commit.
  { block: /unsyncedChanges/, stdout: /^saved$/m },
  // The token-minting example: its token opens a document for writing on the server the
  // README's `JWT_SECRET=... npm start` started.
  { block: /new SignJWT/, token: true },
]

const blocks = FILES.flatMap(blocksOf)
const runnable = blocks.filter((b) => b.notRun === null)
const label = (b: Block): string => `${b.file}:${b.line} (${b.lang}) ${b.code.split('\n').find((l) => l.trim() !== '' && !l.startsWith('import '))?.trim().slice(0, 60) ?? ''}`

// State shared by the blocks of one file, in order, as in a reader's terminal.
let server: ServerProcess | null = null
let serverEnv: Record<string, string> = {}
const serverDirs: Array<{ remove (): void }> = []
const snippets = mkdtempSync(path.join(ROOT, 'test', '.snippets-'))
const children = new Set<ReturnType<typeof spawn>>()
let currentFile = ''

/** A browser's global WebSocket, for browser snippets run in Node.js 20 (which has none). */
const PRELOAD = path.join(snippets, 'browser-websocket.mjs')
writeFileSync(PRELOAD, "import { WebSocket } from 'ws'\nglobalThis.WebSocket ??= WebSocket\n")

afterAll(async () => {
  destroyClients()
  for (const child of children) child.kill('SIGKILL')
  await server?.stop('SIGKILL')
  for (const d of serverDirs) d.remove()
  rmSync(snippets, { recursive: true, force: true })
})

/** (Re)starts "the server the reader runs": `collabd start` in a scratch folder, default store. */
async function startServer (env: Record<string, string>): Promise<ServerProcess> {
  if (server !== null) {
    // The reader stops the previous one with Ctrl-C: it must shut down cleanly.
    expect(await server.stop('SIGINT')).toBe(0)
  }
  const dir = tempDir('collabd-readme-')
  serverDirs.push(dir)
  serverEnv = env
  server = await spawnServer({ WARM_UP: 'false', ...env }, { cwd: dir.dir })
  return server
}

async function theServer (): Promise<ServerProcess> {
  return server ?? await startServer({})
}

const toServer = (code: string, port: number): string => code.replace(/localhost:3001/g, `127.0.0.1:${port}`)

/** Log lines of the server from index `from` on with message `msg`. */
const logsSince = (s: ServerProcess, from: number, msg: string): Array<Record<string, unknown>> => s.logs().slice(from).filter((l) => l.msg === msg)

async function runShell (block: Block, ctx: TestContext): Promise<string> {
  let stdout = ''
  for (const raw of block.code.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim()
    if (line === '') continue
    const start = /^((?:[A-Z_][A-Z0-9_]*=\S+\s+)*)npm start$/.exec(line)
    if (start !== null) {
      const env = Object.fromEntries([...start[1]!.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)].map((m) => [m[1]!, m[2]!]))
      await startServer(env)
      continue
    }
    if (line.startsWith('curl ')) {
      requireProgram(ctx, 'curl')
      const s = await theServer()
      const result = spawnSync('sh', ['-c', toServer(line, s.port)], { encoding: 'utf8', timeout: 10_000 })
      expect(result.status, `${line}\n${result.stderr}`).toBe(0)
      stdout += result.stdout
      continue
    }
    throw new Error(`${block.file}:${block.line}: the test cannot run \`${line}\`; mark the block <!-- not run: why -->`)
  }
  return stdout
}

async function runJavaScript (block: Block): Promise<string> {
  const servesItself = block.code.includes('createServer(')
  const providers = (block.code.match(/new (?:WebsocketProvider|HocuspocusProvider)\(/g) ?? []).length
  const s = servesItself ? null : await theServer()
  let code = block.code
  let ownPort: number | null = null
  if (servesItself) {
    ownPort = await freePort()
    code = code.replace(/\b300[01]\b/g, String(ownPort))
  } else {
    code = toServer(code, s!.port)
  }
  const file = path.join(snippets, `${path.basename(block.file, '.md')}-${block.line}.mjs`)
  writeFileSync(file, code)
  const browser = providers > 0 && !/from 'ws'/.test(code)
  const logStart = s?.lines.length ?? 0
  const child = spawn(process.execPath, [...(browser ? ['--import', PRELOAD] : []), file], {
    cwd: snippets,
    env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', ...(servesItself ? {} : serverEnv) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString('utf8') })
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString('utf8') })
  let exit: number | string | null = null
  const exited = new Promise<void>((resolve) => child.on('exit', (code, signal) => { exit = code ?? signal; resolve() }))
  const expectation = EXPECTATIONS.find((e) => e.block.test(block.code))
  const what = (): string => `${label(block)}\nstdout: ${stdout}\nstderr: ${stderr}`

  if (servesItself) {
    let healthy = false
    await waitFor(async () => {
      if (exit !== null) return true
      healthy = await fetch(`http://127.0.0.1:${ownPort}/health`).then((r) => r.status === 200, () => false)
      return healthy
    }, `${label(block)}: its /health to answer 200`, 20_000, 100)
    expect(healthy, `exited (${exit}) before serving: ${what()}`).toBe(true)
    child.kill('SIGTERM')
    await waitFor(() => exit !== null, `${label(block)}: to exit on SIGTERM`, 15_000)
  } else {
    const done = (): boolean => exit !== null || (providers > 0 &&
      logsSince(s!, logStart, 'connected').length >= providers &&
      (expectation?.stdout === undefined || expectation.stdout.test(stdout)))
    await waitFor(done, `${label(block)}: to exit, or its ${providers} providers to connect`, 20_000)
    if (exit === null) {
      child.kill('SIGKILL')
      await exited
    } else {
      expect(exit, what()).toBe(0)
    }
    const refused = [...logsSince(s!, logStart, 'connection refused'), ...logsSince(s!, logStart, 'document refused')]
    expect(refused, `refused connections: ${what()}`).toEqual([])
  }
  await exited
  children.delete(child)
  expect(stderr, what()).toBe('')
  return stdout
}

/** The minted token must open a document for writing, and the server must refuse a bad one. */
async function checkToken (token: string): Promise<void> {
  const s = await theServer()
  expect(serverEnv.JWT_SECRET, 'the README starts the server with JWT_SECRET before minting').toBeDefined()
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
  const from = s.lines.length
  const { provider } = hocus(s.url, 'readme-token', { token })
  await synced(provider, 'a provider with the minted token to sync')
  await waitFor(() => logsSince(s, from, 'connected').some((l) => l.userId === 'ann' && l.readOnly === false), 'the server to admit ann as a writer')
  hocus(s.url, 'readme-token', { token: 'not-a-token' })
  await waitFor(() => logsSince(s, from, 'document refused').length === 1, 'the server to refuse a bad token')
  destroyClients()
}

describe('README.md and docs/configuration.md code blocks', () => {
  it('mark every block they do not run with a reason, and run the rest', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(8)
    for (const b of blocks) if (b.notRun !== null) expect(b.notRun, label(b)).not.toBe('')
    for (const b of runnable) expect(['sh', 'js'], `${label(b)}: only sh and js blocks can run; mark the others`).toContain(b.lang)
    for (const e of EXPECTATIONS) expect(runnable.some((b) => e.block.test(b.code)), `a runnable block matching ${e.block}`).toBe(true)
  })

  for (const block of runnable) {
    it(`runs ${label(block)}`, async (ctx) => {
      if (block.file !== currentFile) {
        // Each document starts with no server running.
        currentFile = block.file
        await server?.stop('SIGKILL')
        server = null
        serverEnv = {}
      }
      const stdout = block.lang === 'sh' ? await runShell(block, ctx) : await runJavaScript(block)
      const expectation = EXPECTATIONS.find((e) => e.block.test(block.code))
      if (expectation?.stdout !== undefined) expect(stdout, label(block)).toMatch(expectation.stdout)
      if (expectation?.token === true) await checkToken(stdout.trim())
    })
  }
})
