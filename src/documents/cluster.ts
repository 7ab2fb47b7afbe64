/**
 * The seam between documents and the other instances serving the same documents (REDIS_URL),
 * both ways, as interfaces only: what a room and the registry ask of the cluster (`Cluster`),
 * everything the cluster calls on a room (`ClusterRoom`, which Room implements) and on the
 * registry (`LoadedRooms`), and what the server needs to run it (`ClusterNode`). scaling/
 * implements the cluster over Redis and knows no concrete class of documents/; without
 * REDIS_URL there is none. ARCHITECTURE.md ("Many instances") gives the rules.
 */

/** Everything the cluster calls on a loaded room. */
export interface ClusterRoom {
  readonly name: string
  /** One load of the room in this process: its sequence numbers restart with each. */
  readonly epoch: number
  /** An update got half-way into the room and it is being dropped: leave it alone. */
  readonly failed: boolean
  /** The doc's state vector. */
  stateVector (): Uint8Array
  /**
   * What an instance with `stateVector` lacks.
   * @throws {ProtocolError} when the state vector is malformed.
   */
  diff (stateVector: Uint8Array): Uint8Array
  /** Awareness states of this instance's own members; null when none. */
  localAwareness (): Uint8Array | null
  /**
   * Another instance's update (it is writing it): applied, relayed to every member, held until
   * that instance confirms it durable.
   * @throws {InvalidUpdateError} when Yjs cannot apply it.
   */
  applyPeerUpdate (instanceId: string, epoch: number, seq: number, update: Uint8Array): void
  /**
   * What another instance had that this one lacked, in answer to a sync request: written here
   * too (nothing says it is durable yet), unless it brings nothing new.
   * @throws {InvalidUpdateError} when Yjs cannot apply it.
   */
  applySyncedUpdate (instanceId: string, update: Uint8Array): void
  /** Another instance wrote its updates of room `epoch` up to `seq`. */
  peerCommitted (instanceId: string, epoch: number, seq: number): void
  /**
   * Another instance's awareness change, relayed to every member.
   * @throws {ProtocolError} when malformed.
   */
  applyPeerAwareness (instanceId: string, update: Uint8Array): void
  /** Another instance stopped or is unreachable: write what it never confirmed, drop its presence. */
  peerGone (instanceId: string): void
  /** Writes the unconfirmed updates of `instanceId` (of every peer when undefined) from here. */
  writeUnconfirmed (instanceId?: string): void
  /** Says again how far this room's updates are durable (a COMMITTED may have been lost with Redis). */
  republishCommitted (): void
  /** A server-to-client stateless message for this room's members. */
  broadcastStateless (payload: string): void
}

/** What rooms and the registry ask of the other instances. */
export interface Cluster {
  /** Starts receiving the document's messages (before it is loaded from the store). */
  open (name: string): Promise<void>
  /** The room is loaded: ask the other instances for what the store may not have yet. */
  attach (room: ClusterRoom): void
  /** The room is gone from this instance. */
  close (name: string): void
  /** A local client's update, appended at `seq` of this room. */
  publishUpdate (room: ClusterRoom, seq: number, update: Uint8Array): void
  /** This room's updates up to `seq` are durable. */
  publishCommitted (room: ClusterRoom, seq: number): void
  /** A local client's awareness change (or the removal of a local client's states). */
  publishAwareness (room: ClusterRoom, update: Uint8Array): void
}

/** The documents loaded on this instance, as the cluster sees them (the registry). */
export interface LoadedRooms {
  get (name: string): ClusterRoom | undefined
  /** Names of the loaded documents (a copy). */
  names (): string[]
  /** Reads a loaded document from the store again and applies what the room lacks. */
  refreshFromStore (name: string): Promise<void>
  /** A document being unloaded here (writing its last updates), which can still answer syncs. */
  unloadingRoom (name: string): ClusterRoom | undefined
  /** Resolves once the documents being unloaded now are written and gone; null when there are none. */
  unloadsSettled (): Promise<void> | null
}

export interface ClusterHealth {
  readonly connected: boolean
  /** Round trip of a PING, ms; null when not connected. */
  readonly latency: number | null
}

/** The cluster as the server runs it (start, health, broadcasts, shutdown). */
export interface ClusterNode extends Cluster {
  /** This instance's id on the channels (random per process). */
  readonly instanceId: string
  /** Both connections are up. */
  readonly connected: boolean
  /**
   * Connects and starts the heartbeat; resolves once connected or once the configured wait
   * passed (then the instance serves its own clients and joins the others when it can).
   */
  start (rooms: LoadedRooms): Promise<void>
  health (): Promise<ClusterHealth>
  /** A server-to-client stateless message for every instance's clients of the document. */
  publishStateless (name: string, payload: string): void
  /** Says goodbye and disconnects. */
  shutdown (): Promise<void>
}
