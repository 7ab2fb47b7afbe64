/**
 * Document names are checked before any lookup or storage access. They come from URL paths
 * and Hocuspocus frames, so the rule keeps out what would hurt storage, logs or other tools:
 * empty names, control characters (NUL is not even storable in PostgreSQL text) and very long
 * names.
 */

/** Longest accepted name, in UTF-16 code units. */
export const MAX_DOCUMENT_NAME_LENGTH = 512

const CONTROL = /[\u0000-\u001f\u007f]/

/** @returns why the name is refused, or null when it is acceptable. */
export function documentNameProblem (name: string): string | null {
  if (name.length === 0) return 'document name is empty'
  if (name.length > MAX_DOCUMENT_NAME_LENGTH) return `document name is longer than ${MAX_DOCUMENT_NAME_LENGTH} characters`
  if (CONTROL.test(name)) return 'document name contains control characters'
  return null
}
