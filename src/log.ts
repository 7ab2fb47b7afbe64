/**
 * Logging with pino: JSON lines by default, human-readable when stdout is a terminal.
 *
 * Tokens, cookies and authorization headers never reach a log line: callers log document
 * names, connection ids and paths (never raw URLs, whose query may carry `?token=`), and the
 * redaction list below is a second line of defence for anything that slips through.
 */
import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { LogFormat, LogLevel } from './config.js'

export type { Logger }

const REDACT_PATHS = [
  'token', '*.token', 'cookie', '*.cookie', 'authorization', '*.authorization',
  'headers.cookie', 'headers.authorization', 'req.headers.cookie', 'req.headers.authorization',
  'password', '*.password', 'secret', '*.secret',
]

export interface LoggerOptions {
  level: LogLevel
  format: LogFormat
  /** Where to write; defaults to stdout. Tests pass a stream to inspect lines. */
  destination?: NodeJS.WritableStream
}

export function createLogger (opts: LoggerOptions): Logger {
  const destination = opts.destination ?? process.stdout
  const isTerminal = destination === process.stdout && process.stdout.isTTY === true
  const usePretty = opts.format === 'pretty' || (opts.format === 'auto' && isTerminal)
  const base = {
    level: opts.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  }
  if (usePretty) {
    // In-process and synchronous: a terminal is slow anyway, and a worker-thread transport
    // would lose the last lines on process.exit.
    return pino(base, pretty({ colorize: isTerminal, destination: destination as NodeJS.WritableStream & { fd?: number }, sync: true, ignore: 'pid,hostname' }))
  }
  return pino(base, destination === process.stdout ? pino.destination({ sync: true }) : destination)
}

/** A logger that drops everything, for library users who pass none and for unit tests. */
export const silentLogger = (): Logger => pino({ level: 'silent' })
