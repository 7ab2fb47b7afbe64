/** Types of env-docs.mjs, for the unit test that compares the documents with what it generates. */
export interface DocumentedSetting {
  readonly name: string
  readonly default: string
  readonly doc: string
}
export declare const TABLE_START: string
export declare const TABLE_END: string
/** The docs/configuration.md table, one row per setting. */
export declare function table (environment: readonly DocumentedSetting[]): string
/** The whole of .env.example. */
export declare function example (environment: readonly DocumentedSetting[]): string
/** `text` with the part between TABLE_START and TABLE_END replaced by `generated`. */
export declare function withTable (text: string, generated: string): string
