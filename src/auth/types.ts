/**
 * The authentication and authorization seam. Connections gather credentials once, at connect
 * (and, on a multiplexed Hocuspocus socket, once per document); an Authenticator turns them
 * into a Principal or a refusal, and an Authorizer decides what the principal may do with one
 * document. Nothing here runs per message.
 */

/** Where a credential came from, for logs (never the credential itself). */
export type CredentialSource = 'hocuspocus-token' | 'query' | 'bearer' | 'cookie'

export interface Credentials {
  /** Token from the Hocuspocus auth message (per document), if any. */
  readonly hocuspocusToken: string | null
  /** `?token=` from the WebSocket URL. */
  readonly queryToken: string | null
  /** `Authorization: Bearer <token>`. */
  readonly bearerToken: string | null
  /** Cookies sent with the upgrade request, by name. */
  readonly cookies: ReadonlyMap<string, string>
  /** Client address as seen by this process (a proxy's address behind one). */
  readonly remoteAddress: string
}

/** Documents a credential is limited to (a JWT's documents or prefix claim); null: any. */
export interface DocumentScope {
  readonly names: ReadonlySet<string> | null
  readonly prefix: string | null
}

export interface Principal {
  /** Stable user id; null for anonymous users. */
  readonly userId: string | null
  readonly role: string | null
  readonly displayName: string | null
  readonly anonymous: boolean
  /** Documents this credential may open at most; null when it does not limit them. */
  readonly scope?: DocumentScope | null
  /**
   * The Better Auth session token this principal was admitted with, for re-checks (not a
   * Hocuspocus document session). A secret: never log it.
   */
  readonly authSession?: string | null
}

export type AuthResult =
  | { readonly ok: true, readonly principal: Principal }
  /**
   * `reason` goes to the log, never to the client; so does `userId` when the credential named
   * one before it failed (an expired token).
   */
  | { readonly ok: false, readonly reason: string, readonly userId?: string | null }

export interface Authenticator {
  /** Short name for logs and the startup banner, e.g. `anonymous`, `jwt`. */
  readonly kind: string
  authenticate (credentials: Credentials): Promise<AuthResult>
  /**
   * Of `sessions` (Principal.authSession values of open connections), those that are no longer
   * valid: their connections are closed. Authenticators without sessions leave it out.
   */
  revoked? (sessions: readonly string[]): Promise<ReadonlySet<string>>
  /** Releases database pools and the like. */
  close? (): Promise<void>
}

export type Access = 'none' | 'read' | 'write'

export interface Authorizer {
  authorize (principal: Principal, documentName: string): Promise<Access>
}

/**
 * The per-document grants the role authorizer reads (the store's `document_access` table),
 * described here so that auth does not depend on storage.
 */
export interface GrantStore {
  listGrants (document: string): Promise<ReadonlyArray<{ readonly userId: string, readonly role: string }>>
  /** Makes `userId` the owner of `document` if the document is new. @returns whether it did. */
  claimOwnership (document: string, userId: string): Promise<boolean>
}
