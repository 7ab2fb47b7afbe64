/**
 * The rule for user ids that credentials carry (a JWT claim, a Better Auth user): they are
 * stored with every update and in grants, so control characters are refused (a NUL is not
 * storable in PostgreSQL text, and would fail every write of the batch carrying it), and so
 * are very long ids. Ids that are not well-formed Unicode (a lone UTF-16 surrogate, from a JSON
 * `\ud800` escape) are refused too: SQLite would store other bytes and PostgreSQL U+FFFD, so the
 * creator would lose its own document and on PostgreSQL another user (`u\ufffd`) would own it.
 */
import { isWellFormed } from '../unicode.js'

/** Longest accepted user id, in UTF-16 code units. */
export const MAX_USER_ID_LENGTH = 512

const CONTROL = /[\u0000-\u001f\u007f]/

/** @returns why the user id is refused, or null when it is acceptable. */
export function userIdProblem (userId: string): string | null {
  if (userId.length > MAX_USER_ID_LENGTH) return `user id is longer than ${MAX_USER_ID_LENGTH} characters`
  if (CONTROL.test(userId)) return 'user id contains control characters'
  if (!isWellFormed(userId)) return 'user id is not well-formed Unicode'
  return null
}
