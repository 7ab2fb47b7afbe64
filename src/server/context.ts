/**
 * What every connection needs from the server, passed down once at connect. Connections hold
 * this instead of the server, so the dependency points one way (server -> connection).
 */
import type { EventEmitter } from 'node:events'
import type { Authenticator, Authorizer } from '../auth/types.js'
import type { Config } from '../config.js'
import type { Registry } from '../documents/registry.js'
import type { Logger } from '../log.js'

export type Protocol = 'y-websocket' | 'hocuspocus'

/** A stateless message from a Hocuspocus client (`provider.sendStateless(payload)`). */
export interface StatelessEvent {
  readonly documentName: string
  readonly connectionId: string
  readonly userId: string | null
  readonly payload: string
  /** Sends a stateless message back to this client only. */
  reply (payload: string): void
}

export interface ConnectEvent {
  readonly connectionId: string
  readonly protocol: Protocol
  readonly documentName: string
  readonly userId: string | null
  readonly readOnly: boolean
}

export interface DisconnectEvent {
  readonly connectionId: string
  readonly protocol: Protocol
  readonly documentName: string
}

export interface DeniedEvent {
  readonly connectionId: string
  readonly protocol: Protocol
  readonly documentName: string
  readonly reason: string
}

/** Events a CollabServer emits. Emitted, never awaited: a slow listener cannot stall a socket. */
export interface ServerEvents {
  connect: [ConnectEvent]
  disconnect: [DisconnectEvent]
  denied: [DeniedEvent]
  stateless: [StatelessEvent]
  'document-loaded': [{ name: string, ms: number, snapshotBytes: number, logUpdates: number }]
  'document-unloaded': [{ name: string }]
}

export interface ServerContext {
  readonly config: Config
  readonly log: Logger
  readonly registry: Registry
  readonly authenticator: Authenticator
  readonly authorizer: Authorizer
  readonly events: EventEmitter<ServerEvents>
}
