/** A one-line progress bar on stderr when it is a terminal; silent otherwise. */
export class Progress {
  private label = ''
  private started = 0
  private lastDraw = 0
  private readonly enabled: boolean

  constructor (enabled = process.stderr.isTTY === true) {
    this.enabled = enabled
  }

  start (label: string): void {
    this.label = label
    this.started = performance.now()
    this.draw(0, true)
  }

  /** `fraction` in [0, 1]. */
  update (fraction: number): void {
    this.draw(fraction, false)
  }

  done (): void {
    if (!this.enabled) return
    process.stderr.write('\r\x1b[2K')
  }

  private draw (fraction: number, force: boolean): void {
    if (!this.enabled) return
    const now = performance.now()
    if (!force && now - this.lastDraw < 100) return
    this.lastDraw = now
    const width = 30
    const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width)
    const seconds = ((now - this.started) / 1000).toFixed(1)
    process.stderr.write(`\r\x1b[2K${this.label.padEnd(42).slice(0, 42)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.round(fraction * 100)}% ${seconds}s`)
  }
}
