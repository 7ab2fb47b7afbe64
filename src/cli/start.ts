/**
 * `collabd start`: the server in the foreground until SIGTERM/SIGINT.
 *
 * Its first log line says which store and which authentication it uses, so a wrong
 * DATABASE_URL or a forgotten JWT_SECRET shows before the first client connects. A start-up
 * failure is one sentence on stderr (failure.ts) and a non-zero exit; what was opened before it
 * is closed quietly, since nothing was served (no "shut down" line for a server that never ran).
 */
import { createServer, type CollabServer } from '../index.js'
import type { Config } from '../config.js'
import { createLogger } from '../log.js'
import { describeStorage } from '../storage/index.js'
import { explain, report } from './failure.js'
import { VERSION } from './help.js'
import { announceReady } from './readiness.js'

/** Time allowed to close what a failed start opened (the store, Redis) before exiting anyway. */
const FAILED_START_CLOSE_MS = 3000

/** Runs the server. @returns the exit code once it has stopped. */
export async function start (config: Config): Promise<number> {
  const log = createLogger({ level: config.logLevel, format: config.logFormat })
  log.info({ version: VERSION, storage: describeStorage(config.storage), authentication: describeAuthentication(config), access: describeAccess(config) }, 'starting')
  // A bug that escapes every handler leaves the process in an unknown state: log it and exit
  // without touching the store. Everything acknowledged is already durable; clients reconnect
  // and resend the rest.
  const fatal = (kind: string) => (err: unknown): void => {
    log.fatal({ err }, `${kind}; exiting`)
    process.exit(1)
  }
  process.on('uncaughtException', fatal('uncaught exception'))
  process.on('unhandledRejection', fatal('unhandled promise rejection'))
  let server: CollabServer
  try {
    server = createServer({ config, logger: log })
  } catch (err) {
    return report(err, explain(err, config), config.logLevel)
  }
  let port: number
  try {
    port = (await server.listen()).port
  } catch (err) {
    const code = report(err, explain(err, config), config.logLevel)
    log.level = 'silent'
    await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, FAILED_START_CLOSE_MS).unref())])
    return code
  }
  if (process.stdout.isTTY === true) process.stdout.write(banner(config, port))
  announceReady(log)

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

function banner (config: Config, port: number): string {
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  const base = `${shownHost}:${port}`
  return `
  collabd ${VERSION} is running
    Hocuspocus      ws://${base}${config.wsPath}
    y-websocket     ws://${base}${config.wsPath}/<document>
    Health          http://${base}/health${config.healthPort === null ? '' : ` and http://${shownHost}:${config.healthPort}/health`}
    Storage         ${describeStorage(config.storage)}
    Authentication  ${describeAuthentication(config)}

`
}

/** Which credentials are checked, by which settings (never their values). */
export function describeAuthentication (config: Config): string {
  const parts: string[] = []
  const jwt = config.auth.jwt
  if (jwt !== null) parts.push(`JWT (${jwt.secret !== null ? 'JWT_SECRET' : jwt.publicKey !== null ? 'JWT_PUBLIC_KEY' : 'JWT_JWKS_URL'}: ${jwt.algorithms.join(', ')})`)
  const ba = config.auth.betterAuth
  if (ba !== null) parts.push(`Better Auth sessions (${ba.source.kind === 'http' ? 'asked of BETTER_AUTH_URL' : `read from the app's ${ba.source.kind === 'postgres' ? 'PostgreSQL' : 'SQLite'} database`})`)
  if (parts.length > 0) return parts.join(' or ')
  return config.allowAnonymous ? 'none, on purpose (ALLOW_ANONYMOUS=true): anyone can read and write' : 'none: anyone can read and write'
}

/** Who decides access once a user is known. */
function describeAccess (config: Config): string {
  if (config.auth.authorizeWebhook !== null) return 'asked of AUTHORIZE_URL'
  return `roles and grants (ACCESS_POLICY=${config.auth.accessPolicy})`
}
