/**
 * The Standard Schema interface (https://standardschema.dev), declared here because its authors intend it to be
 * copied rather than depended on. zod 4, valibot, arktype and others implement it, so any of them can validate
 * records without idb-evolve depending on them.
 */

/** A validator in the Standard Schema v1 shape. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1Props<Input, Output>;
}

/** Type helpers of the Standard Schema spec, under the same names. */
export declare namespace StandardSchemaV1 {
  /** The type a validator accepts. */
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['input'];
  /** The type a validator outputs: what records of a validated store look like. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
}

/** The `~standard` property of a {@link StandardSchemaV1}. */
export interface StandardSchemaV1Props<Input = unknown, Output = Input> {
  readonly version: 1;
  readonly vendor: string;
  readonly validate: (value: unknown) => StandardSchemaV1Result<Output> | Promise<StandardSchemaV1Result<Output>>;
  readonly types?: { readonly input: Input; readonly output: Output } | undefined;
}

/** Outcome of a Standard Schema validation: a value, or issues. */
export type StandardSchemaV1Result<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaV1Issue> };

/** One issue of a failed Standard Schema validation. */
export interface StandardSchemaV1Issue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** True when `value` looks like a Standard Schema v1 validator. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  // Primitives (and null, undefined) have no `~standard`, so they fail the checks below.
  const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null | undefined)?.[
    '~standard'
  ];
  return typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function';
}
