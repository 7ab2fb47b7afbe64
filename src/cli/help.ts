/**
 * What `collabd --help`, `collabd <command> --help` and a mistyped command print. The commands
 * are a table, so the global help, each command's help and the short list never disagree.
 */
import { readFileSync } from 'node:fs'
import { ENVIRONMENT } from '../config.js'

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

export interface CommandDoc {
  readonly name: string
  /** The synopsis, e.g. `collabd grant DOC USER ROLE`. */
  readonly usage: string
  /** One line for the command list. */
  readonly summary: string
  /** The rest of the command's own help (may be empty). */
  readonly details: string
}

/** Settings every store-using command reads. */
const STORE_SETTINGS = 'Reads DATABASE_URL (unset: ./data/collabd.sqlite in the working directory) and\n.env in the working directory. Never creates a store: it says on stderr which store it\nopened, and refuses one that does not exist.'

export const COMMANDS: readonly CommandDoc[] = [
  {
    name: 'start',
    usage: 'collabd start',
    summary: 'start the server',
    details: `Stock clients connect unchanged:
  y-websocket: new WebsocketProvider('ws://host:3001/ws', 'doc-name', ydoc)
  Hocuspocus:  new HocuspocusProvider({ url: 'ws://host:3001/ws', name: 'doc-name' })
The first log lines say which store and which authentication it uses. It creates a missing
SQLite store file (and the default ./data/ folder), never other folders. One SQLite file serves
one process: a second server on it refuses to start. Under PM2 (or any parent with an IPC
channel) it sends 'ready' once it listens. Stops gracefully on SIGTERM/SIGINT: pending updates
are written first. Configured by every variable in collabd --help.`,
  },
  {
    name: 'migrate',
    usage: 'collabd migrate',
    summary: 'apply pending database migrations and exit',
    details: `PostgreSQL: applies the pending migrations (the database must exist; collabd creates
tables, not databases). Safe to run twice or from several machines at once. SQLite migrates
when it opens; this brings an existing store up to date.
${STORE_SETTINGS}`,
  },
  {
    name: 'export',
    usage: 'collabd export DOC [FILE]',
    summary: 'write a document as one Yjs update (backups, moving between stores)',
    details: `Writes document DOC as one Yjs update to FILE (or stdout). Works while the server runs.
${STORE_SETTINGS}`,
  },
  {
    name: 'import',
    usage: 'collabd import DOC FILE',
    summary: 'add the Yjs update in FILE to a document',
    details: `Merges the update in FILE into document DOC (Yjs never overwrites: importing into the
wrong document adds content). Do it while DOC is not open: an open document shows it after
it is next loaded. A file Yjs cannot read is refused before anything is written.
${STORE_SETTINGS}`,
  },
  {
    name: 'grant',
    usage: 'collabd grant DOC USER ROLE',
    summary: 'give USER a role (owner, admin, editor, viewer) on a document',
    details: `Grants apply to connections opened afterwards; the server may keep running. See ACCESS_POLICY.
${STORE_SETTINGS}`,
  },
  {
    name: 'revoke',
    usage: 'collabd revoke DOC USER',
    summary: 'take USER\'s grant on a document away',
    details: `The last owner of a document cannot be removed: grant another owner first (exit code 2).
${STORE_SETTINGS}`,
  },
  {
    name: 'access',
    usage: 'collabd access DOC',
    summary: 'list a document\'s grants',
    details: STORE_SETTINGS,
  },
  {
    name: 'bench',
    usage: 'collabd bench [scenario ...] [options]',
    summary: 'load-test a collabd (or compare it with Hocuspocus and y-websocket)',
    details: 'Options of its own: collabd bench --help',
  },
  {
    name: 'help',
    usage: 'collabd help [COMMAND]',
    summary: 'show this help, or a command\'s',
    details: '',
  },
]

export const EXIT_CODES = `Exit codes:
  0  done
  1  failed: the store, a port or a file could not be used, another collabd serves the
     SQLite file, the document or grant was not found, or shutdown took longer than
     SHUTDOWN_TIMEOUT_MS (nothing acknowledged is lost)
  2  usage or configuration: an unknown command or option, wrong arguments, an invalid
     setting, no authentication with NODE_ENV=production, a store that does not exist or
     is not a collabd store`

export function commandList (): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length - 'collabd '.length))
  return COMMANDS.map((c) => `  ${c.usage.slice('collabd '.length).padEnd(width)}  ${c.summary}`).join('\n')
}

/** `collabd --help`: every command, the exit codes and every environment variable. */
export function globalHelp (): string {
  const width = Math.max(...ENVIRONMENT.map((s) => s.name.length))
  const env = ENVIRONMENT.map((s) => `  ${s.name.padEnd(width)}  ${s.doc}${s.default === '' ? '' : ` [default: ${s.default}]`}`).join('\n')
  return `collabd ${VERSION}: a real-time collaboration server for Yjs

Usage: collabd <command> [arguments]     collabd <command> --help for one command

Commands:
${commandList()}

Options:
  -h, --help     Show this help (after a command: that command's help).
  -v, --version  Print the version.

${EXIT_CODES}

Environment variables (a .env file in the working directory is read too; the real environment wins):
${env}
`
}

/** `collabd <command> --help`. */
export function commandHelp (command: CommandDoc): string {
  return `Usage: ${command.usage}

${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.${command.details === '' ? '' : `\n${command.details}`}

${EXIT_CODES}
`
}

/** What a mistyped command or a bare `collabd` prints: short, to stderr. */
export function usageHint (): string {
  return `Commands:\n${commandList()}\nRun collabd <command> --help for one command, collabd --help for everything.\n`
}

export const findCommand = (name: string): CommandDoc | undefined => COMMANDS.find((c) => c.name === name)
