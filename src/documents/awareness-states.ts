/**
 * A document's awareness (presence) states, kept as the JSON text clients sent, with the clock
 * rules of y-protocols/awareness but without its Awareness class: no Y.Doc, no JSON.parse
 * round-trip and no timers per document.
 *
 * Each state remembers the member that last set it. When a member leaves, the states it set
 * are announced as removed and forgotten, so the table only ever holds states of present
 * members, at most `perMember` each (a connection normally has one).
 */
import { LimitError } from '../errors.js'
import { REMOVED_STATE, encodeAwarenessUpdate, type AwarenessEntry } from '../protocol/awareness.js'

interface State<Owner> {
  clock: number
  /** JSON text; REMOVED_STATE when the client cleared its state (the clock orders late updates). */
  state: string
  owner: Owner
}

/** Client ids one owner may hold, and what a removal does (see `applyFromPeer`). */
interface OwnerRule {
  readonly limit: number
  readonly forgetRemovals: boolean
}

export interface AwarenessLimits {
  /** Client ids one member (a connection's session) may hold. */
  readonly perMember: number
  /** Client ids all the members of one other instance may hold together. */
  readonly perPeer: number
}

export class AwarenessStates<Owner> {
  private readonly states = new Map<number, State<Owner>>()
  /** Client ids each member owns. */
  private readonly owned = new Map<Owner, number>()
  private readonly memberRule: OwnerRule
  private readonly peerRule: OwnerRule

  constructor (limits: AwarenessLimits) {
    this.memberRule = { limit: limits.perMember, forgetRemovals: false }
    this.peerRule = { limit: limits.perPeer, forgetRemovals: true }
  }

  /**
   * Applies decoded entries from a member. A removal keeps the entry (with its clock) until the
   * member leaves, so a late update with an older clock cannot bring the state back.
   * @returns whether any entry was newer than the state we had (then the update is worth relaying).
   * @throws {LimitError} when the member would own more than `perMember` client ids.
   */
  applyFromMember (entries: readonly AwarenessEntry[], owner: Owner): boolean {
    return this.apply(entries, owner, this.memberRule)
  }

  /**
   * Applies decoded entries relayed by another instance. A removal deletes the entry at once: a
   * peer lives long and sees many clients come and go, and its messages arrive in order.
   * @returns whether any entry was newer than the state we had.
   * @throws {LimitError} when the peer would own more than `perPeer` client ids.
   */
  applyFromPeer (entries: readonly AwarenessEntry[], owner: Owner): boolean {
    return this.apply(entries, owner, this.peerRule)
  }

  private apply (entries: readonly AwarenessEntry[], owner: Owner, rule: OwnerRule): boolean {
    const limit = rule.limit
    let changed = false
    for (const e of entries) {
      const current = this.states.get(e.clientId)
      if (current === undefined) {
        // Removing a client we never saw changes nothing, and is not worth remembering.
        if (e.state === REMOVED_STATE) continue
        this.own(owner, 1, limit)
        this.states.set(e.clientId, { clock: e.clock, state: e.state, owner })
        changed = true
        continue
      }
      // y-protocols' rule: a newer clock wins; at an equal clock, a removal wins over a state.
      const newer = current.clock < e.clock || (current.clock === e.clock && e.state === REMOVED_STATE && current.state !== REMOVED_STATE)
      if (!newer) continue
      if (rule.forgetRemovals && e.state === REMOVED_STATE) {
        this.own(current.owner, -1, limit)
        this.states.delete(e.clientId)
        changed = true
        continue
      }
      if (current.owner !== owner) {
        this.own(owner, 1, limit)
        this.own(current.owner, -1, limit)
        current.owner = owner
      }
      current.clock = e.clock
      current.state = e.state
      changed = true
    }
    return changed
  }

  /**
   * Forgets every state last set by `owner` (a member left).
   * @returns the awareness update announcing the removals, or null if there was nothing to announce.
   */
  removeOwner (owner: Owner): Uint8Array | null {
    if (!this.owned.has(owner)) return null
    this.owned.delete(owner)
    let removed: AwarenessEntry[] | null = null
    for (const [clientId, s] of this.states) {
      if (s.owner !== owner) continue
      this.states.delete(clientId)
      if (s.state !== REMOVED_STATE) (removed ??= []).push({ clientId, clock: s.clock + 1, state: REMOVED_STATE })
    }
    return removed === null ? null : encodeAwarenessUpdate(removed)
  }

  /**
   * An update holding every present state (of the owners `include` accepts), or null when there
   * is none (nothing to send).
   */
  encodeAll (include?: (owner: Owner) => boolean): Uint8Array | null {
    const present: AwarenessEntry[] = []
    for (const [clientId, s] of this.states) {
      if (s.state !== REMOVED_STATE && (include === undefined || include(s.owner))) present.push({ clientId, clock: s.clock, state: s.state })
    }
    return present.length === 0 ? null : encodeAwarenessUpdate(present)
  }

  /** Number of clients with a present state. */
  get presentCount (): number {
    let n = 0
    for (const s of this.states.values()) if (s.state !== REMOVED_STATE) n++
    return n
  }

  /** Entries held, present or removed (bounded by members x maxPerMember). */
  get size (): number {
    return this.states.size
  }

  private own (owner: Owner, delta: number, limit: number): void {
    const n = (this.owned.get(owner) ?? 0) + delta
    if (n > limit) {
      throw new LimitError('AWARENESS_CLIENTS', `more than ${limit} awareness clients on one connection`, { publicReason: 'too many awareness clients' })
    }
    if (n <= 0) this.owned.delete(owner)
    else this.owned.set(owner, n)
  }
}
