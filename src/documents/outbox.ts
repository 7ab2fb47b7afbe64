/**
 * A room's outbox: the updates applied and the awareness changes accepted since its last relay,
 * in arrival order, and how they go out.
 *
 * Each member gets, in one broadcast, everything in the outbox in order except the updates it
 * sent itself (awareness goes to everyone, the sender included: the stock providers take their
 * own echoed state as a sign of life). Members that sent nothing share one broadcast, in which a
 * run of updates becomes one merged update when many members share it. Keeping awareness in the
 * same ordered list matters: a cursor sent after an edit must not arrive before that edit.
 */
import * as Y from 'yjs'
import { updateBody } from '../protocol/messages.js'
import { Broadcast } from './broadcast.js'

/** What the outbox sends to (a RoomMember; only the broadcast part matters here). */
export interface OutboxRecipient {
  sendBroadcast (broadcast: Broadcast): void
}

/**
 * Merging a run into one update costs about 10 µs per update, once; sending it saves a frame per
 * update per recipient. Below this many members the frames are cheaper.
 */
const MERGE_MIN_MEMBERS = 5

/** Whether a run of updates becomes one merged update (for an audience of many) or stays as sent. */
interface RunShape { readonly merge: boolean }
const MERGED: RunShape = { merge: true }
const AS_SENT: RunShape = { merge: false }

export class Outbox<M extends OutboxRecipient> {
  /**
   * A raw update, or (origin null) a ready awareness message body. An update's origin is the
   * member that sent it, or something that is not a member (another instance) when every member
   * should get it.
   */
  private items: Uint8Array[] = []
  private origins: Array<object | null> = []
  private updateBytes = 0

  get isEmpty (): boolean {
    return this.items.length === 0
  }

  get updates (): number {
    return this.items.length
  }

  get bytes (): number {
    return this.updateBytes
  }

  addUpdate (origin: object, update: Uint8Array): void {
    this.items.push(update)
    this.origins.push(origin)
    this.updateBytes += update.length
  }

  /** A message body for every member (awareness). */
  addForEveryone (body: Uint8Array): void {
    this.items.push(body)
    this.origins.push(null)
  }

  clear (): void {
    this.items = []
    this.origins = []
    this.updateBytes = 0
  }

  /** Sends everything to `members` and empties the outbox. */
  deliver (members: ReadonlySet<M>): void {
    const items = this.items
    const origins = this.origins
    this.clear()
    if (items.length === 0 || members.size === 0) return
    // Usually one member sent every update of the turn.
    let sole: object | null = null
    let senders: Set<object> | null = null
    for (const o of origins) {
      if (o === null || o === sole) continue
      if (sole === null) sole = o
      else (senders ??= new Set([sole])).add(o)
    }
    const shape = members.size >= MERGE_MIN_MEMBERS ? MERGED : AS_SENT
    let shared: Broadcast | null = null
    for (const m of members) {
      const sent = senders === null ? m === sole : senders.has(m)
      if (!sent) {
        shared ??= new Broadcast(bodiesFor(items, origins, null, shape))
        m.sendBroadcast(shared)
        continue
      }
      const own = bodiesFor(items, origins, m, AS_SENT)
      if (own.length > 0) m.sendBroadcast(new Broadcast(own))
    }
  }
}

/** The message bodies of `items` in order, leaving out the updates `exclude` sent. */
function bodiesFor (items: readonly Uint8Array[], origins: ReadonlyArray<object | null>, exclude: object | null, shape: RunShape): Uint8Array[] {
  const out: Uint8Array[] = []
  let run: Uint8Array[] = []
  const endRun = (): void => {
    if (run.length === 0) return
    if (shape.merge && run.length > 1) {
      try {
        out.push(updateBody(Y.mergeUpdates(run)))
        run = []
        return
      } catch {
        // Every update here was applied, so this is not expected; send them one by one instead.
      }
    }
    for (const u of run) out.push(updateBody(u))
    run = []
  }
  for (let i = 0; i < items.length; i++) {
    const origin = origins[i]
    if (origin === null) {
      endRun()
      out.push(items[i]!)
    } else if (origin !== exclude) {
      run.push(items[i]!)
    }
  }
  endRun()
  return out
}
