/**
 * Why a command could not do its job, as one sentence that names the setting to change, and
 * the exit code (see EXIT_CODES in help.ts). A stack trace helps nobody who set a wrong port;
 * it is printed only with LOG_LEVEL=debug or trace.
 */
import { DEFAULT_SQLITE_PATH, type Config, type StorageConfig } from '../config.js'
import { ConfigError, StoreRefusedError, StoreUnavailableError } from '../errors.js'
import { redactUrl } from '../storage/index.js'

export interface Failure {
  /** One sentence each, without the "collabd: " prefix (a ConfigError may list several). */
  readonly lines: readonly string[]
  readonly exitCode: 1 | 2
}

/** A failure the command itself detected (wrong arguments, nothing found): no stack to show. */
export class CommandFailure extends Error {
  constructor (message: string, readonly exitCode: 1 | 2) {
    super(message)
  }
}

/** The store DATABASE_URL names, for a sentence: `DATABASE_URL=postgres://u:***@db/app`. */
export function storeSetting (storage: StorageConfig): string {
  if (storage.kind === 'memory') return 'DATABASE_URL=memory:'
  if (storage.kind === 'postgres') return `DATABASE_URL=${redactUrl(storage.url)}`
  return storage.path === DEFAULT_SQLITE_PATH
    ? `DATABASE_URL unset: the default ${storage.path}, relative to the working directory`
    : `DATABASE_URL=sqlite:${storage.path}`
}

/** Explains `err`. `config` is null when the configuration itself failed. */
export function explain (err: unknown, config: Config | null): Failure {
  if (err instanceof CommandFailure) return { lines: [err.message], exitCode: err.exitCode }
  if (err instanceof ConfigError) return { lines: err.problems, exitCode: 2 }
  if (err instanceof StoreRefusedError) return { lines: [refused(err, config)], exitCode: err.reason === 'locked' ? 1 : 2 }
  const code = errorCode(err)
  if ((err as { syscall?: unknown }).syscall === 'listen' && config !== null) return listenFailure(err as NodeJS.ErrnoException & { port?: number }, config)
  if (config?.storage.kind === 'postgres' && code !== null) {
    const postgres = postgresFailure(code, config.storage)
    if (postgres !== null) return postgres
  }
  const message = (err as Error)?.message ?? String(err)
  if (config?.storage.kind === 'postgres' && /timeout/i.test(message)) return { lines: [`PostgreSQL did not answer within 5 s (${storeSetting(config.storage)})`], exitCode: 1 }
  if (err instanceof StoreUnavailableError && config !== null) {
    // "PostgreSQL schema is behind: run `collabd migrate`" says what to do already.
    if (message.includes('collabd migrate')) return { lines: [`${message} (MIGRATE_ON_START=false)`], exitCode: 1 }
    return { lines: [`the store of ${storeSetting(config.storage)} could not be opened: ${message}`], exitCode: 1 }
  }
  if (code === 'EACCES' || code === 'EROFS' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY') {
    const where = config?.storage.kind === 'sqlite' ? ` (${storeSetting(config.storage)}; the folder must be writable by this user)` : ''
    return { lines: [`${message}${where}`], exitCode: 1 }
  }
  return { lines: [message], exitCode: 1 }
}

/** Prints `failure`, plus the stack of `err` with LOG_LEVEL=debug or trace. @returns the exit code. */
export function report (err: unknown, failure: Failure, logLevel: string | undefined): number {
  for (const line of failure.lines) process.stderr.write(`collabd: ${line}\n`)
  if ((logLevel === 'debug' || logLevel === 'trace') && err instanceof Error && !(err instanceof CommandFailure) && !(err instanceof ConfigError)) {
    process.stderr.write(`${err.stack ?? ''}\n`)
    if (err.cause !== undefined) process.stderr.write(`caused by: ${(err.cause as Error)?.stack ?? String(err.cause)}\n`)
  }
  return failure.exitCode
}

/** The first `code` along the error and its causes (pg, Node and SQLite errors carry one). */
function errorCode (err: unknown): string | null {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'ERR_STORE_UNAVAILABLE') return code
  }
  return null
}

function refused (err: StoreRefusedError, config: Config | null): string {
  if (err.reason === 'locked' || config === null) return err.message
  const setting = storeSetting(config.storage)
  if (err.reason === 'missing' && config.storage.kind === 'sqlite' && err.message.startsWith('there is no')) {
    return `${err.message} (${setting}): run the command where the server runs, or set DATABASE_URL to the server's store`
  }
  return `${err.message} (${setting})`
}

function listenFailure (err: NodeJS.ErrnoException & { port?: number, address?: string }, config: Config): Failure {
  const setting = config.healthPort !== null && err.port === config.healthPort && err.port !== config.port ? 'HEALTH_PORT' : 'PORT'
  const port = err.port ?? (setting === 'PORT' ? config.port : config.healthPort)
  switch (err.code) {
    case 'EADDRINUSE': return { lines: [`${setting}=${port} is already in use by another process: stop it, or set ${setting} to a free port`], exitCode: 1 }
    case 'EACCES': return { lines: [`${setting}=${port} needs privileges this user lacks (ports below 1024): set ${setting} to 1024 or above, and let a proxy take the low port`], exitCode: 1 }
    case 'EADDRNOTAVAIL': return { lines: [`HOST=${config.host} is not an address of this machine: set HOST to one of its addresses (0.0.0.0 for all)`], exitCode: 2 }
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return { lines: [`HOST=${config.host} does not resolve to an address: set HOST to an address of this machine`], exitCode: 2 }
    default: return { lines: [`could not listen on ${setting}=${port} (HOST=${config.host}): ${err.message}`], exitCode: 1 }
  }
}

function postgresFailure (code: string, storage: Extract<StorageConfig, { kind: 'postgres' }>): Failure | null {
  const setting = storeSetting(storage)
  let where = 'the server'
  let database = ''
  try {
    const url = new URL(storage.url)
    where = `${url.hostname}:${url.port === '' ? '5432' : url.port}`
    database = decodeURIComponent(url.pathname.slice(1))
  } catch { /* redactUrl already shows it as unparsable */ }
  switch (code) {
    case 'ECONNREFUSED': return { lines: [`PostgreSQL refused the connection at ${where} (${setting}): is it running, and is that its address?`], exitCode: 1 }
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return { lines: [`the PostgreSQL host of ${setting} does not resolve: check the host name`], exitCode: 2 }
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH': return { lines: [`PostgreSQL at ${where} did not answer (${setting})`], exitCode: 1 }
    case '3D000': return { lines: [`the database "${database}" of ${setting} does not exist: create it (CREATE DATABASE ...) or fix the name; collabd creates tables, not databases`], exitCode: 2 }
    case '28000':
    case '28P01': return { lines: [`PostgreSQL refused the user or password of ${setting}`], exitCode: 2 }
    case '42501': return { lines: [`the user of ${setting} may not create or use collabd's tables: grant it CREATE on the database (or run collabd migrate as its owner)`], exitCode: 1 }
    default: return null
  }
}

