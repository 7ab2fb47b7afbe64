/**
 * The commands that read or manage a store beside a running server: grant, revoke, access,
 * export, import, migrate. None of them creates a store (createStore's 'manage' use): each says
 * on stderr which store it opened, and one that does not exist is refused, so a command run from
 * the wrong directory says so instead of answering "no grants" from a new, empty store.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import pg from 'pg'
import * as Y from 'yjs'
import type { AccessPolicy, Config, StorageConfig } from '../config.js'
import { nameProblem } from '../server/admission.js'
import { createStore, describeStorage, migratePostgres, redactUrl } from '../storage/index.js'
import { buildDoc } from '../storage/snapshot.js'
import { isRole, lastOwnerProblem, ROLES, type Role } from '../roles.js'
import type { DocumentStore } from '../storage/types.js'
import { CommandFailure } from './failure.js'

/** Where the store is, for the line that says which store a command opened. */
function whichStore (storage: StorageConfig): string {
  if (storage.kind === 'sqlite') return `sqlite ${path.resolve(storage.path)}`
  if (storage.kind === 'postgres') return `postgres ${redactUrl(storage.url)}`
  return 'memory'
}

/**
 * Opens the configured store without creating it, says which one on stderr, runs `work`, and
 * closes it. @throws what opening throws (StoreRefusedError for a missing SQLite store).
 */
async function withStore<T> (config: Config, work: (store: DocumentStore) => Promise<T>): Promise<T> {
  if (config.storage.kind === 'memory') throw new CommandFailure('DATABASE_URL=memory: keeps nothing; point DATABASE_URL at the server\'s store', 2)
  const store = createStore(config.storage, { use: 'manage' })
  try {
    await store.open()
    process.stderr.write(`collabd: store ${whichStore(config.storage)}\n`)
    return await work(store)
  } finally {
    await store.close()
  }
}

/** A document name the server would accept. @throws {CommandFailure} */
function checkName (config: Config, document: string): void {
  const problem = nameProblem(config, document)
  if (problem !== null) throw new CommandFailure(problem, 2)
}

/** What a document without grants is open to, by policy (auth/access-policy.ts). */
const NO_GRANTS_MEANS: Readonly<Record<AccessPolicy, string>> = {
  'role-plus-grants': 'access by role',
  grants: 'open to nobody but users whose own role is owner or admin',
  role: 'access by role (grants are not consulted)',
}

const missing = (usage: string): CommandFailure => new CommandFailure(`missing arguments; usage: ${usage}`, 2)

/** `collabd grant DOC USER ROLE`, `collabd revoke DOC USER`, `collabd access DOC`. */
export async function manageAccess (config: Config, command: 'grant' | 'revoke' | 'access', args: readonly string[], usage: string): Promise<number> {
  const [document, user, role] = args
  const wanted = { grant: 3, revoke: 2, access: 1 }[command]
  if (args.length < wanted) throw missing(usage)
  if (args.length > wanted) throw new CommandFailure(`too many arguments; usage: ${usage}`, 2)
  checkName(config, document!)
  if (command === 'grant' && !isRole(role)) throw new CommandFailure(`ROLE must be one of ${ROLES.join(', ')} (got "${role}")`, 2)
  if (config.auth.authorizeWebhook !== null) process.stderr.write('collabd: note: AUTHORIZE_URL is set, so the server decides access by asking the app and does not consult grants\n')
  return await withStore(config, async (store) => {
    if (command !== 'access') {
      // The same rule as the admin API's 409: a document that has an owner keeps one.
      const lastOwner = lastOwnerProblem(document!, await store.listGrants(document!), { userId: user!, role: command === 'grant' ? role as Role : null })
      if (lastOwner !== null) throw new CommandFailure(lastOwner, 2)
    }
    if (command === 'grant') {
      await store.grant(document!, user!, role as Role)
      process.stdout.write(`${user} is now ${role} of "${document}"\n`)
      return 0
    }
    if (command === 'revoke') {
      const removed = await store.revoke(document!, user!)
      process.stdout.write(removed ? `${user} no longer has a grant on "${document}"\n` : `${user} had no grant on "${document}"\n`)
      return removed ? 0 : 1
    }
    const grants = await store.listGrants(document!)
    if (grants.length === 0) process.stdout.write(`"${document}" has no grants: ${NO_GRANTS_MEANS[config.auth.accessPolicy]} (ACCESS_POLICY=${config.auth.accessPolicy})\n`)
    for (const g of grants) process.stdout.write(`${g.role.padEnd(7)}  ${g.userId}  since ${new Date(g.grantedAt).toISOString()}\n`)
    return 0
  })
}

/** `collabd export DOC [FILE]`. */
export async function exportDocument (config: Config, args: readonly string[], usage: string): Promise<number> {
  const [document, file] = args
  if (document === undefined) throw missing(usage)
  if (args.length > 2) throw new CommandFailure(`too many arguments; usage: ${usage}`, 2)
  checkName(config, document)
  return await withStore(config, async (store) => {
    const stored = await store.load(document)
    if (stored === null) throw new CommandFailure(`no document "${document}" in this store`, 1)
    const doc = buildDoc(document, stored)
    const bytes = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    if (file === undefined) process.stdout.write(bytes)
    else {
      try {
        writeFileSync(file, bytes)
      } catch (err) {
        throw new CommandFailure(`cannot write ${file}: ${fileProblem(err)}`, 1)
      }
    }
    process.stderr.write(`exported "${document}": ${bytes.length} bytes\n`)
    return 0
  })
}

/** `collabd import DOC FILE`. */
export async function importDocument (config: Config, args: readonly string[], usage: string): Promise<number> {
  const [document, file] = args
  if (document === undefined || file === undefined) throw missing(usage)
  if (args.length > 2) throw new CommandFailure(`too many arguments; usage: ${usage}`, 2)
  checkName(config, document)
  let update: Uint8Array
  try {
    update = new Uint8Array(readFileSync(file))
  } catch (err) {
    throw new CommandFailure(`cannot read ${file}: ${fileProblem(err)}`, 1)
  }
  // Applied to a scratch document first: a file Yjs cannot read never reaches the store.
  try {
    const scratch = new Y.Doc()
    Y.applyUpdate(scratch, update)
    scratch.destroy()
  } catch (err) {
    throw new CommandFailure(`${file} is not a Yjs update: ${(err as Error).message}`, 1)
  }
  return await withStore(config, async (store) => {
    await store.append([{ document, update, userId: null }])
    process.stderr.write(`imported ${update.length} bytes into "${document}"\n`)
    return 0
  })
}

/** `collabd migrate`. */
export async function migrate (config: Config, args: readonly string[], usage: string): Promise<number> {
  if (args.length > 0) throw new CommandFailure(`too many arguments; usage: ${usage}`, 2)
  if (config.storage.kind === 'memory') throw new CommandFailure('DATABASE_URL=memory: has no schema to migrate', 2)
  if (config.storage.kind === 'sqlite') {
    // SQLite applies its migrations when it opens.
    await withStore(config, async () => undefined)
    process.stdout.write(`${describeStorage(config.storage)}: schema up to date\n`)
    return 0
  }
  const pool = new pg.Pool({ connectionString: config.storage.url, max: 1 })
  // An idle client that loses its connection must not end the process; the query fails anyway.
  pool.on('error', () => {})
  try {
    const applied = await migratePostgres(pool)
    process.stderr.write(`collabd: store ${whichStore(config.storage)}\n`)
    process.stdout.write(applied.length === 0 ? `${describeStorage(config.storage)}: schema up to date\n` : `${describeStorage(config.storage)}: applied migrations ${applied.join(', ')}\n`)
    return 0
  } finally {
    await pool.end()
  }
}

/** "no such file or directory" rather than the whole ENOENT message with the syscall. */
function fileProblem (err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file or directory'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return (err as Error).message
}
