/**
 * Whether a string is well-formed UTF-16 (no lone surrogate), so that it survives UTF-8 storage
 * unchanged. `String.prototype.isWellFormed` exists from Node 20 but not in its @types.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export const isWellFormed = (s: string): boolean => !LONE_SURROGATE.test(s)
