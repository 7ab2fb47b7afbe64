/**
 * Hocuspocus clients that type numbered tokens and count acknowledgements, so a test knows
 * exactly which edits the server said were saved: the server acknowledges a connection's updates
 * in order, so after k acknowledgements the first k tokens are durable.
 */
import type { HocuspocusProvider } from '@hocuspocus/provider'
import type * as Y from 'yjs'
import { hocus, synced } from './clients.js'
import { waitFor } from './wait.js'

export interface Editor {
  readonly id: string
  readonly doc: Y.Doc
  readonly provider: HocuspocusProvider
  /** Tokens typed so far, in order. */
  readonly typed: string[]
  /** Acknowledgements received since editing began. */
  acked (): number
  /** Tokens the server acknowledged. */
  ackedTokens (): string[]
  type (): void
}

export async function editor (url: string, documentName: string, id: string): Promise<Editor> {
  const { doc, provider } = hocus(url, documentName)
  await synced(provider, `${id} to sync`)
  await waitFor(() => provider.unsyncedChanges === 0, `${id} to settle its initial sync`)
  let acked = 0
  let last = 0
  provider.on('unsyncedChanges', ({ number }: { number: number }) => {
    if (number < last) acked += last - number
    last = number
  })
  const typed: string[] = []
  return {
    id,
    doc,
    provider,
    typed,
    acked: () => acked,
    ackedTokens: () => typed.slice(0, acked),
    type: () => {
      const token = `[${id}-${typed.length}]`
      typed.push(token)
      const t = doc.getText('t')
      t.insert(t.length, token)
    },
  }
}
