#!/usr/bin/env node
/**
 * The `collabd` command. Configuration comes from environment variables (see --help); the
 * commands are small wrappers around the library.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import { ENVIRONMENT, loadConfig, type Config } from './config.js'
import { ConfigError } from './errors.js'
import { createServer } from './index.js'
import { createLogger } from './log.js'
import { nameProblem } from './server/admission.js'
import pg from 'pg'
import { createStore, describeStorage, migratePostgres } from './storage/index.js'
import { buildDoc } from './storage/snapshot.js'
import { isRole, lastOwnerProblem, ROLES, type Role } from './roles.js'

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

function help (): string {
  const width = Math.max(...ENVIRONMENT.map((s) => s.name.length))
  const env = ENVIRONMENT.map((s) => `  ${s.name.padEnd(width)}  ${s.doc}${s.default === '' ? '' : ` [default: ${s.default}]`}`).join('\n')
  return `collabd ${VERSION}: a real-time collaboration server for Yjs

Usage: collabd <command>

Commands:
  start          Start the server. Stock clients connect unchanged:
                   y-websocket: new WebsocketProvider('ws://host:3001/ws', 'doc-name', ydoc)
                   Hocuspocus:  new HocuspocusProvider({ url: 'ws://host:3001/ws', name: 'doc-name' })
                 Stops gracefully on SIGTERM/SIGINT (pending updates are written first).
  migrate        Apply pending database migrations (PostgreSQL; SQLite migrates when it opens)
                 and exit. Safe to run twice or from several machines at once.
  export DOC [FILE]
                 Write document DOC as one Yjs update to FILE (or stdout), for backups and
                 moving documents between stores.
  import DOC FILE
                 Add the Yjs update in FILE to document DOC (merged with what it has). Do it
                 while DOC is not open: an open document shows it after it is next loaded.
  grant DOC USER ROLE
                 Give USER the ROLE (owner, admin, editor, viewer) on document DOC.
  revoke DOC USER
                 Take USER's grant on DOC away.
  access DOC     List DOC's grants. (Grants apply to connections opened afterwards;
                 the server may keep running. See ACCESS_POLICY.)
  bench          Measure a collabd server (or compare it with Hocuspocus and the y-websocket
                 server): collabd bench --help
  help           Show this help.

Options:
  -h, --help     Show this help.
  -v, --version  Print the version.

Environment variables (a .env file in the working directory is read too; the real environment wins):
${env}
`
}

/** The configuration from the environment and ./.env. @returns null after printing what is wrong. */
function readConfig (): Config | null {
  if (existsSync('.env')) process.loadEnvFile('.env')
  try {
    return loadConfig(process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`collabd: ${err.message}\n`)
    return null
  }
}

async function start (): Promise<number> {
  const config = readConfig()
  if (config === null) return 2
  const log = createLogger({ level: config.logLevel, format: config.logFormat })
  // A bug that escapes every handler leaves the process in an unknown state: log it and exit
  // without touching the store. Everything acknowledged is already durable; clients reconnect
  // and resend the rest.
  const fatal = (kind: string) => (err: unknown): void => {
    log.fatal({ err }, `${kind}; exiting`)
    process.exit(1)
  }
  process.on('uncaughtException', fatal('uncaught exception'))
  process.on('unhandledRejection', fatal('unhandled promise rejection'))
  let server
  try {
    server = createServer({ config, logger: log })
  } catch (err) {
    if (err instanceof ConfigError) {
      log.fatal({ problems: err.problems }, 'refusing to start')
      process.stderr.write(`collabd: refusing to start:\n  - ${err.problems.join('\n  - ')}\n`)
      return 2
    }
    throw err
  }
  let address
  try {
    address = await server.listen()
  } catch (err) {
    log.fatal({ err }, 'could not start')
    await server.close()
    return 1
  }
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  const base = `${shownHost}:${address.port}`
  log.info({ port: address.port, host: config.host, healthPort: config.healthPort, wsPath: config.wsPath, storage: describeStorage(config.storage), version: VERSION }, 'listening')
  if (process.stdout.isTTY === true) {
    process.stdout.write(`
  collabd ${VERSION} is running
    Hocuspocus   ws://${base}${config.wsPath}
    y-websocket  ws://${base}${config.wsPath}/<document>
    Health       http://${base}/health${config.healthPort === null ? '' : ` and http://${shownHost}:${config.healthPort}/health`}
    Storage      ${describeStorage(config.storage)}

`)
  }

  return await new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting')
        resolve(1)
        return
      }
      stopping = true
      log.info({ signal }, 'stopping')
      server.close().then((result) => resolve(result.clean ? 0 : 1), (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        resolve(1)
      })
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
  })
}

/** `collabd grant|revoke|access`: per-document grants in the configured store. */
async function manageAccess (command: 'grant' | 'revoke' | 'access', args: readonly string[]): Promise<number> {
  const usage = { grant: 'collabd grant DOC USER ROLE', revoke: 'collabd revoke DOC USER', access: 'collabd access DOC' }[command]
  const [document, user, role] = args
  const fail = (message: string): number => {
    process.stderr.write(`collabd: ${message}\nUsage: ${usage}\n`)
    return 2
  }
  if (document === undefined || (command !== 'access' && user === undefined) || (command === 'grant' && role === undefined)) return fail('missing arguments')
  const config = storeConfig(usage)
  if (config === null) return 2
  const problem = nameProblem(config, document)
  if (problem !== null) return fail(problem)
  if (command === 'grant' && !isRole(role)) return fail(`role must be one of ${ROLES.join(', ')}`)
  if (config.auth.authorizeWebhook !== null) process.stderr.write('collabd: note: AUTHORIZE_URL is set, so the server decides access by asking the app and does not consult grants\n')
  const store = createStore(config.storage)
  await store.open()
  try {
    if (command !== 'access') {
      // The same rule as the admin API's 409: a document that has an owner keeps one.
      const lastOwner = lastOwnerProblem(document, await store.listGrants(document), { userId: user!, role: command === 'grant' ? role as Role : null })
      if (lastOwner !== null) {
        process.stderr.write(`collabd: ${lastOwner}\n`)
        return 2
      }
    }
    if (command === 'grant') {
      await store.grant(document, user!, role as Role)
      process.stdout.write(`${user} is now ${role} of "${document}"\n`)
    } else if (command === 'revoke') {
      const removed = await store.revoke(document, user!)
      process.stdout.write(removed ? `${user} no longer has a grant on "${document}"\n` : `${user} had no grant on "${document}"\n`)
      if (!removed) return 1
    } else {
      const grants = await store.listGrants(document)
      if (grants.length === 0) process.stdout.write(`"${document}" has no grants: access by role (ACCESS_POLICY=${config.auth.accessPolicy})\n`)
      for (const g of grants) process.stdout.write(`${g.role.padEnd(7)}  ${g.userId}  since ${new Date(g.grantedAt).toISOString()}\n`)
    }
    return 0
  } finally {
    await store.close()
  }
}

/** Loads the configuration for a command that needs a persistent store. @returns null after printing why not. */
function storeConfig (usage: string): Config | null {
  const config = readConfig()
  if (config?.storage.kind === 'memory') {
    process.stderr.write(`collabd: DATABASE_URL=memory: keeps nothing; point DATABASE_URL at the server's store\nUsage: ${usage}\n`)
    return null
  }
  return config
}

/** `collabd export DOC [FILE]` and `collabd import DOC FILE`. */
async function transfer (command: 'export' | 'import', args: readonly string[]): Promise<number> {
  const usage = command === 'export' ? 'collabd export DOC [FILE]' : 'collabd import DOC FILE'
  const [document, file] = args
  if (document === undefined || (command === 'import' && file === undefined)) {
    process.stderr.write(`collabd: missing arguments\nUsage: ${usage}\n`)
    return 2
  }
  const config = storeConfig(usage)
  if (config === null) return 2
  const problem = nameProblem(config, document)
  if (problem !== null) {
    process.stderr.write(`collabd: ${problem}\n`)
    return 2
  }
  let update: Uint8Array | null = null
  if (command === 'import') {
    update = new Uint8Array(readFileSync(file!))
    // Applied to a scratch document first: a file Yjs cannot read never reaches the store.
    try {
      const scratch = new Y.Doc()
      Y.applyUpdate(scratch, update)
      scratch.destroy()
    } catch (err) {
      process.stderr.write(`collabd: ${file} is not a Yjs update: ${(err as Error).message}\n`)
      return 2
    }
  }
  const store = createStore(config.storage)
  await store.open()
  try {
    if (update !== null) {
      await store.append([{ document, update, userId: null }])
      process.stderr.write(`imported ${update.length} bytes into "${document}"\n`)
      return 0
    }
    const stored = await store.load(document)
    if (stored === null) {
      process.stderr.write(`collabd: no document "${document}"\n`)
      return 1
    }
    const doc = buildDoc(document, stored)
    const bytes = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    if (file === undefined) process.stdout.write(bytes)
    else writeFileSync(file, bytes)
    process.stderr.write(`exported "${document}": ${bytes.length} bytes\n`)
    return 0
  } finally {
    await store.close()
  }
}

/** `collabd migrate`. */
async function migrate (): Promise<number> {
  const config = readConfig()
  if (config === null) return 2
  if (config.storage.kind === 'memory') {
    process.stderr.write('collabd: DATABASE_URL=memory: has no schema to migrate\n')
    return 2
  }
  if (config.storage.kind === 'sqlite') {
    const store = createStore(config.storage)
    await store.open() // SQLite applies its migrations when it opens
    await store.close()
    process.stdout.write(`${describeStorage(config.storage)}: schema up to date\n`)
    return 0
  }
  const pool = new pg.Pool({ connectionString: config.storage.url, max: 1 })
  try {
    const applied = await migratePostgres(pool)
    process.stdout.write(applied.length === 0 ? `${describeStorage(config.storage)}: schema up to date\n` : `${describeStorage(config.storage)}: applied migrations ${applied.join(', ')}\n`)
    return 0
  } finally {
    await pool.end()
  }
}

async function main (): Promise<number> {
  // `bench` has options of its own.
  if (process.argv[2] === 'bench') {
    const { benchMain } = await import('./bench/cli.js')
    return await benchMain(process.argv.slice(3))
  }
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    })
  } catch (err) {
    process.stderr.write(`collabd: ${(err as Error).message}\n\n${help()}`)
    return 1
  }
  const { values, positionals } = parsed
  if (values.version === true) {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const command = positionals[0]
  if (values.help === true || command === 'help' || command === undefined) {
    process.stdout.write(help())
    return command === undefined && values.help !== true ? 1 : 0
  }
  if (command === 'start') return await start()
  if (command === 'migrate') return await migrate()
  if (command === 'export' || command === 'import') return await transfer(command, positionals.slice(1))
  if (command === 'grant' || command === 'revoke' || command === 'access') return await manageAccess(command, positionals.slice(1))
  process.stderr.write(`collabd: unknown command "${command}"\n\n${help()}`)
  return 1
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`collabd: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exit(1)
  },
)
