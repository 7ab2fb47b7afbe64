/**
 * Document names are checked before any lookup or storage access. They come from URL paths
 * and Hocuspocus frames, so the rule keeps out what would hurt storage, logs or other tools:
 * empty names, control characters (NUL is not even storable in PostgreSQL text) and very long
 * names.
 *
 * One name means one document on every protocol, byte for byte: nothing is normalised. So what
 * something on the way could change is refused instead of being taken to mean another name:
 * - a dot segment (`.` or `..` between slashes or at either end), which URL parsers and proxies
 *   resolve (`x/../cafe` would reach `cafe` over y-websocket and be its own document over
 *   Hocuspocus);
 * - U+FEFF, which decoders drop as a byte order mark at the start of a text and nobody can see;
 * - text that is not well-formed Unicode (a lone surrogate), which the stores cannot keep exact.
 */
import { isWellFormed } from '../unicode.js'

/** Longest accepted name, in UTF-16 code units. */
export const MAX_DOCUMENT_NAME_LENGTH = 512

const CONTROL = /[\u0000-\u001f\u007f]/
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/

/** @returns why the name is refused, or null when it is acceptable. */
export function documentNameProblem (name: string): string | null {
  if (name.length === 0) return 'document name is empty'
  if (name.length > MAX_DOCUMENT_NAME_LENGTH) return `document name is longer than ${MAX_DOCUMENT_NAME_LENGTH} characters`
  if (CONTROL.test(name)) return 'document name contains control characters'
  if (name.includes('\uFEFF')) return 'document name contains U+FEFF'
  if (!isWellFormed(name)) return 'document name is not well-formed Unicode'
  if (DOT_SEGMENT.test(name)) return 'document name contains a . or .. segment'
  return null
}
