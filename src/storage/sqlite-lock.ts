/**
 * One server per SQLite file. Two servers on one file would each keep their own copy of an open
 * document in memory and relay edits only to their own clients: their clients drift apart with
 * no error anywhere. So a serving store holds an exclusive lock for as long as it is open, and a
 * second one fails to open.
 *
 * The lock is an operating-system lock, so the kernel drops it when the process ends, however it
 * ends (kill -9 included), and a stale lock cannot keep a restarted server out. It lives in a
 * companion database `<file>-lock`, not in the store itself: management commands (grant, export,
 * ...) and backups must keep working on the store beside a running server. SQLite takes the
 * lock (fcntl byte-range locks, with its own bookkeeping so that two connections in one process
 * see each other too); `locking_mode=EXCLUSIVE` keeps it after the first write until the
 * connection closes. That first write records the holder's pid in the header (`user_version`,
 * bytes 60-63), where the refused process can read it without SQLite.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import * as path from 'node:path'
import Database from 'better-sqlite3'
import { StoreRefusedError } from '../errors.js'

/** Where the pid is: SQLite's header field `user_version`, a big-endian 32-bit integer. */
const PID_OFFSET = 60

/**
 * Lock files held by this process. Reading one of them with plain fs calls would be harmful:
 * closing any descriptor of a file drops every fcntl lock this process holds on it.
 */
const heldHere = new Set<string>()

export interface ServerLock {
  /** The lock file, `<store file>-lock`. */
  readonly file: string
  release (): void
}

/**
 * Takes the single-server lock of the SQLite store `storeFile`.
 * @throws {StoreRefusedError} (reason `locked`) when another server holds it.
 */
export function acquireServerLock (storeFile: string): ServerLock {
  const file = `${path.resolve(storeFile)}-lock`
  if (heldHere.has(file)) throw locked(storeFile, `this process (pid ${process.pid})`)
  const db = new Database(file)
  try {
    db.pragma('busy_timeout = 0') // a held lock is an answer, not something to wait for
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('journal_mode = MEMORY') // nothing here needs to survive a crash; no journal file
    db.exec('BEGIN EXCLUSIVE')
    db.pragma(`user_version = ${process.pid}`)
    db.exec('COMMIT')
  } catch (err) {
    db.close()
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') throw locked(storeFile, holderOf(file))
    throw err
  }
  heldHere.add(file)
  let released = false
  return {
    file,
    release: () => {
      if (released) return
      released = true
      heldHere.delete(file)
      db.close()
    },
  }
}

function locked (storeFile: string, holder: string): StoreRefusedError {
  return new StoreRefusedError('locked', `another collabd is already serving ${storeFile} (${holder}); one SQLite file serves one process`)
}

/** "pid N" as recorded by the holder, or a vaguer answer when it cannot be read. */
function holderOf (file: string): string {
  let fd: number | null = null
  try {
    fd = openSync(file, 'r')
    const bytes = Buffer.alloc(4)
    const read = readSync(fd, bytes, 0, 4, PID_OFFSET)
    const pid = read === 4 ? bytes.readUInt32BE(0) : 0
    return pid > 0 ? `pid ${pid}` : 'its pid is not recorded'
  } catch (err) {
    return `its pid could not be read: ${(err as Error).message}`
  } finally {
    if (fd !== null) closeSync(fd)
  }
}
