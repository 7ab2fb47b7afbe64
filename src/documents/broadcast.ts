/**
 * One or more message bodies going to many members, in order. The room fills `bodies`; the
 * connections turn them into wire bytes once per distinct framing and share those bytes between
 * every member that frames them alike (the room never reads the cache fields).
 *
 * y-websocket members all frame alike (no address), so a broadcast is framed once for all of
 * them. Hocuspocus members prefix their address; members of one room mostly share it (the
 * document name, unless the provider uses per-session addresses), so one cached addressed frame
 * usually serves them all too.
 */
export class Broadcast {
  /** Wire bytes without an address (y-websocket), built by the first member that needs them. */
  bare: Uint8Array | null = null
  /** Wire bytes for the members whose address prefix is `addressPrefix` (one-entry cache). */
  addressPrefix: Uint8Array | null = null
  addressed: Uint8Array | null = null

  constructor (readonly bodies: readonly Uint8Array[]) {}
}
