/**
 * Error classes with a stable `code`. Each says how it reaches the outside world: the
 * WebSocket close code for a connection, the HTTP status for a request. The message is for
 * logs; `publicReason` is the short generic text a client may see (close reasons are limited
 * to 123 bytes by RFC 6455 and must never echo secrets).
 */

/** WebSocket close codes used by collabd (RFC 6455 section 7.4 plus the private 4000 range). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** The frame was not a binary frame (text frames are not part of either protocol). */
  unsupportedData: 1003,
  /** The frame could not be decoded, or carried an update Yjs could not apply. */
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  /** The server is restarting; providers reconnect (possibly to another instance). */
  serviceRestart: 1012,
  tryAgainLater: 1013,
  /** Hocuspocus' "Reset Connection": the client should reconnect and sync again. */
  resetConnection: 4205,
  /** Authentication failed or was revoked. y-websocket treats 44xx as permanent. */
  unauthorized: 4401,
  forbidden: 4403,
  /** No authentication (or no pong) within the allowed time. */
  timeout: 4408,
} as const

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]

export class CollabdError extends Error {
  /** Stable machine-readable code, e.g. `ERR_MALFORMED_MESSAGE`. */
  readonly code: string
  /** Close code used when this error ends a WebSocket connection. */
  readonly closeCode: CloseCodeValue
  /** HTTP status used when this error ends an HTTP request. */
  readonly httpStatus: number
  /** Short generic text safe to show to a client. */
  readonly publicReason: string

  constructor (
    code: string,
    message: string,
    opts: { closeCode?: CloseCodeValue, httpStatus?: number, publicReason?: string, cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = new.target.name
    this.code = code
    this.closeCode = opts.closeCode ?? CloseCode.internalError
    this.httpStatus = opts.httpStatus ?? 500
    this.publicReason = opts.publicReason ?? 'internal error'
  }
}

/** A frame that does not follow the wire format. Ends that one connection. */
export class ProtocolError extends CollabdError {
  constructor (message: string, opts: { closeCode?: CloseCodeValue, publicReason?: string, cause?: unknown } = {}) {
    super('ERR_MALFORMED_MESSAGE', message, {
      closeCode: opts.closeCode ?? CloseCode.invalidPayload,
      httpStatus: 400,
      publicReason: opts.publicReason ?? 'malformed message',
      cause: opts.cause,
    })
  }
}

/** What a LimitError is about: its code is `ERR_LIMIT_<name>`. */
export type LimitName =
  | 'ADDRESS_LENGTH'
  | 'DOCUMENTS_PER_CONNECTION'
  | 'MESSAGES_BEFORE_AUTH'
  | 'AWARENESS_CLIENTS'
  | 'PENDING_WRITES'

/**
 * A client went past one of collabd's limits. Not malformed input: its own code family
 * (`ERR_LIMIT_...`), so logs and metrics tell abuse and misconfiguration apart from broken
 * clients (`ERR_MALFORMED_MESSAGE`). Ends that one connection (or document) with `closeCode`.
 */
export class LimitError extends CollabdError {
  constructor (limit: LimitName, message: string, opts: { closeCode?: CloseCodeValue, publicReason: string }) {
    super(`ERR_LIMIT_${limit}`, message, {
      closeCode: opts.closeCode ?? CloseCode.policyViolation,
      httpStatus: 429,
      publicReason: opts.publicReason,
    })
  }
}

/** A well-formed update that Yjs refused to apply. Ends that one connection. */
export class InvalidUpdateError extends CollabdError {
  constructor (documentName: string, cause: unknown) {
    super('ERR_INVALID_UPDATE', `update for "${documentName}" could not be applied`, {
      closeCode: CloseCode.invalidPayload,
      httpStatus: 400,
      publicReason: 'update could not be applied',
      cause,
    })
  }
}

/**
 * The stored bytes of a document failed to decode. The document refuses to load and its
 * stored bytes are never overwritten; an operator has to look at it.
 */
export class CorruptDocumentError extends CollabdError {
  readonly documentName: string
  /** What failed, e.g. `snapshot of 120 bytes: Unexpected end of array`. */
  readonly detail: string
  constructor (documentName: string, detail: string, cause?: unknown) {
    super('ERR_CORRUPT_DOCUMENT', `stored document "${documentName}" failed to decode (${detail})`, {
      closeCode: CloseCode.internalError,
      httpStatus: 500,
      publicReason: 'document unavailable',
      cause,
    })
    this.documentName = documentName
    this.detail = detail
  }
}

/** The store could not be reached or refused an operation. Usually transient. */
export class StoreUnavailableError extends CollabdError {
  constructor (message: string, cause?: unknown) {
    super('ERR_STORE_UNAVAILABLE', message, {
      closeCode: CloseCode.tryAgainLater,
      httpStatus: 503,
      publicReason: 'storage unavailable, try again later',
      cause,
    })
  }
}

/** Invalid configuration. Thrown at startup, never later. */
export class ConfigError extends CollabdError {
  readonly problems: readonly string[]
  constructor (problems: readonly string[]) {
    super('ERR_CONFIG', `invalid configuration:\n  - ${problems.join('\n  - ')}`, { httpStatus: 500 })
    this.problems = problems
  }
}

/**
 * The configured store cannot be used as it is, and retrying will not change that: it does not
 * exist (and this command never creates one), it is not a collabd store, or another collabd
 * server holds it. The message is one sentence naming the store.
 */
export class StoreRefusedError extends CollabdError {
  readonly reason: 'missing' | 'not-a-store' | 'locked'
  constructor (reason: 'missing' | 'not-a-store' | 'locked', message: string, cause?: unknown) {
    super('ERR_STORE_REFUSED', message, { closeCode: CloseCode.internalError, httpStatus: 500, cause })
    this.reason = reason
  }
}
