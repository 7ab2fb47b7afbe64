/** Where the repository is, for tests that read its files. Imports nothing of collabd (unit tests use it without a build). */
import * as path from 'node:path'

export const ROOT = path.resolve(import.meta.dirname, '..', '..')
