/**
 * Which other instances are alive. Every instance publishes a heartbeat on the instances channel
 * each `intervalMs` (a third of REDIS_PEER_TIMEOUT_MS, between 100 ms and 1 s); an instance not
 * heard from for REDIS_PEER_TIMEOUT_MS is gone, and so is one that says goodbye (BYE, a clean
 * shutdown). Plain state with the clock passed in: redis-cluster.ts owns the timer and says what
 * a departure means.
 *
 * A heartbeat timer that fires late means this event loop was blocked: the peers' heartbeats
 * may be waiting unread in the socket, so that tick judges nobody.
 */

export class InstanceLiveness {
  /** Other instances, by id: when last heard from on the instances channel (ms). */
  private readonly lastHeard = new Map<string, number>()
  private lastTickAt = 0
  readonly intervalMs: number

  constructor (private readonly peerTimeoutMs: number) {
    this.intervalMs = Math.max(100, Math.min(1000, Math.floor(peerTimeoutMs / 3)))
  }

  /** Instances currently known. */
  get size (): number {
    return this.lastHeard.size
  }

  knows (instanceId: string): boolean {
    return this.lastHeard.has(instanceId)
  }

  /** A heartbeat (or any message on the instances channel) from `instanceId`. */
  heartbeat (instanceId: string, now: number): void {
    this.lastHeard.set(instanceId, now)
  }

  /**
   * A message from `instanceId` on a document's channel: it becomes known if it was not (its
   * heartbeats alone keep it alive, so a known one's time is left as it is).
   */
  seen (instanceId: string, now: number): void {
    if (!this.lastHeard.has(instanceId)) this.lastHeard.set(instanceId, now)
  }

  /** `instanceId` said goodbye. @returns whether it was known. */
  bye (instanceId: string): boolean {
    return this.lastHeard.delete(instanceId)
  }

  /**
   * One heartbeat tick at `now`: forgets and returns the instances not heard from within the
   * timeout, or returns null when this tick came late (more than two intervals after the last)
   * and judges nobody.
   */
  tick (now: number): string[] | null {
    const late = now - this.lastTickAt > 2 * this.intervalMs
    this.lastTickAt = now
    if (late) return null
    const gone: string[] = []
    for (const [id, heard] of this.lastHeard) {
      if (now - heard > this.peerTimeoutMs) gone.push(id)
    }
    for (const id of gone) this.lastHeard.delete(id)
    return gone
  }
}
