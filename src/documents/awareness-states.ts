/**
 * A document's awareness (presence) states, kept as the JSON text clients sent, with the clock
 * rules of y-protocols/awareness but without its Awareness class: no Y.Doc, no JSON.parse
 * round-trip and no timers per document.
 *
 * Each state remembers the member that last set it, so when a member leaves, the states it
 * introduced are removed and the removal is broadcast (what y-websocket's server does with
 * `removeAwarenessStates`).
 */
import { REMOVED_STATE, encodeAwarenessUpdate, type AwarenessEntry } from '../protocol/awareness.js'

interface State<Owner> {
  clock: number
  /** JSON text; REMOVED_STATE once the client is gone (the clock is kept to order late updates). */
  state: string
  owner: Owner | null
}

export class AwarenessStates<Owner> {
  private readonly states = new Map<number, State<Owner>>()

  /**
   * Applies decoded entries from `owner`.
   * @returns whether any entry was newer than the state we had (then the update is worth relaying).
   */
  apply (entries: readonly AwarenessEntry[], owner: Owner): boolean {
    let changed = false
    for (const e of entries) {
      const current = this.states.get(e.clientId)
      // y-protocols' rule: a newer clock wins; at an equal clock, a removal wins over a state.
      const newer = current === undefined || current.clock < e.clock ||
        (current.clock === e.clock && e.state === REMOVED_STATE && current.state !== REMOVED_STATE)
      if (!newer) continue
      if (current === undefined) this.states.set(e.clientId, { clock: e.clock, state: e.state, owner })
      else {
        current.clock = e.clock
        current.state = e.state
        current.owner = owner
      }
      changed = true
    }
    return changed
  }

  /**
   * Removes every present state last set by `owner`.
   * @returns the awareness update announcing the removals, or null if `owner` had none.
   */
  removeOwner (owner: Owner): Uint8Array | null {
    let removed: AwarenessEntry[] | null = null
    for (const [clientId, s] of this.states) {
      if (s.owner !== owner) continue
      s.owner = null
      if (s.state === REMOVED_STATE) continue
      s.clock++
      s.state = REMOVED_STATE
      ;(removed ??= []).push({ clientId, clock: s.clock, state: REMOVED_STATE })
    }
    return removed === null ? null : encodeAwarenessUpdate(removed)
  }

  /** An update holding every present state, or null when there is none (nothing to send). */
  encodeAll (): Uint8Array | null {
    const present: AwarenessEntry[] = []
    for (const [clientId, s] of this.states) {
      if (s.state !== REMOVED_STATE) present.push({ clientId, clock: s.clock, state: s.state })
    }
    return present.length === 0 ? null : encodeAwarenessUpdate(present)
  }

  /** Number of clients with a present state. */
  get presentCount (): number {
    let n = 0
    for (const s of this.states.values()) if (s.state !== REMOVED_STATE) n++
    return n
  }
}
