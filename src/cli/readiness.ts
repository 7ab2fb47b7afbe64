/**
 * Telling a process manager that collabd listens, so a rolling restart stops the next instance
 * only once this one takes connections.
 *
 * - PM2 (`wait_ready`), or any parent with an IPC channel: the message 'ready'.
 * - systemd (`Type=notify`, which sets NOTIFY_SOCKET): READY=1 on that socket. It is a Unix
 *   datagram socket, which Node cannot write to without a native addon, so `systemd-notify
 *   --ready` sends it. That needs `NotifyAccess=all` (the sender is not the main process), and
 *   it is sound because systemd-notify (systemd 246 and later) waits until systemd has taken
 *   the message (a barrier), so systemd can still tell which unit it came from.
 */
import { execFile } from 'node:child_process'
import type { Logger } from '../log.js'

/** How long systemd-notify may take; systemd answers in milliseconds when it is there at all. */
const NOTIFY_TIMEOUT_MS = 10_000

/** Says "listening" to whoever started this process. */
export function announceReady (log: Logger): void {
  process.send?.('ready')
  if (process.env.NOTIFY_SOCKET === undefined || process.env.NOTIFY_SOCKET === '') return
  execFile('systemd-notify', ['--ready'], { timeout: NOTIFY_TIMEOUT_MS }, (err, _stdout, stderr) => {
    // systemd then stops the unit after TimeoutStartSec: this line says why.
    if (err !== null) log.error({ err: err.message, stderr: stderr.trim() }, 'could not tell systemd that collabd is ready (systemd-notify --ready failed)')
    else log.debug('told systemd: ready')
  })
}
