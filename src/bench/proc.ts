/**
 * Reading a server process' CPU time and memory from /proc (Linux). CPU time counts every
 * thread of the process (collabd's SQLite worker included), user and system, so it is the
 * fairest efficiency figure on a shared machine where wall-clock time is noisy.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export interface ProcessSample {
  /** User + system CPU seconds since the process started. */
  readonly cpuSeconds: number
  /** Resident set size in bytes. */
  readonly rssBytes: number
}

let ticksPerSecond: number | null = null

function clockTicks (): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** @returns null when the process is gone or /proc is not available. */
export function sampleProcess (pid: number): ProcessSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / clockTicks()
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)
    return { cpuSeconds, rssBytes: rss === null ? 0 : Number(rss[1]) * 1024 }
  } catch {
    return null
  }
}
