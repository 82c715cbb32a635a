import { OptionsError } from './errors.js';

/**
 * One rule of an options check: `test` says whether a present (not undefined) value is acceptable, `expected`
 * completes "`option` must be ...".
 */
export interface OptionRule {
  readonly test: (value: unknown) => boolean;
  readonly expected: string;
  /** The option must be given (undefined is refused). */
  readonly required?: boolean;
}

/** The rules used across the public functions (see {@link rule}). */
export interface Rules {
  readonly ms: OptionRule;
  readonly timeout: OptionRule;
  readonly count: OptionRule;
  readonly boolean: OptionRule;
  readonly string: OptionRule;
  readonly function: OptionRule;
  oneOf(...values: readonly unknown[]): OptionRule;
  methods(what: string, ...names: readonly string[]): OptionRule;
  either(a: OptionRule, b: OptionRule): OptionRule;
  required(r: OptionRule): OptionRule;
}

/** The rules used across the public functions, so that one kind of option is checked and worded one way. */
export const rule: Rules = {
  /** A number of milliseconds: finite, not negative. */
  ms: { test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, expected: 'a number of milliseconds' },
  /** A wait: milliseconds, or Infinity for no bound. */
  timeout: {
    test: (v) => typeof v === 'number' && !Number.isNaN(v) && v >= 0,
    expected: 'a number of milliseconds (Infinity: no bound)',
  },
  /** A whole number, at least 1 (a count of things to keep, a page size). */
  count: { test: (v) => Number.isSafeInteger(v) && (v as number) >= 1, expected: 'a whole number, at least 1' },
  boolean: { test: (v) => typeof v === 'boolean', expected: 'true or false' },
  string: { test: (v) => typeof v === 'string', expected: 'a string' },
  function: { test: (v) => typeof v === 'function', expected: 'a function' },
  /** One of the given literals. */
  oneOf: (...values) => ({
    test: (v) => values.includes(v),
    expected: values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' or '),
  }),
  /** An object with these methods (a storage, a policy). */
  methods: (what, ...names) => ({
    test: (v) =>
      typeof v === 'object' &&
      v !== null &&
      names.every((n) => typeof (v as Record<string, unknown>)[n] === 'function'),
    expected: what,
  }),
  /** Either of two rules. */
  either: (a, b) => ({
    test: (v) => a.test(v) || b.test(v),
    expected: `${a.expected} or ${b.expected}`,
  }),
  /** The rule, and the option must be given. */
  required: (r) => ({ ...r, required: true }),
};

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/**
 * Checks the options of public function `where` against `rules`, throwing an {@link OptionsError} naming the first
 * option that fails. What TypeScript would catch is checked again at run time, for JavaScript callers and values
 * computed at run time: a NaN or a typo must never quietly mean the default.
 */
export function checkOptions(where: string, options: unknown, rules: Readonly<Record<string, OptionRule>>): void {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new OptionsError(`${where}: options must be an object (got ${shown(options)})`);
  }
  const given = (options ?? {}) as Record<string, unknown>;
  for (const [option, check] of Object.entries(rules)) {
    const value = given[option];
    if (value === undefined ? check.required === true : !check.test(value)) {
      throw new OptionsError(`${where}: \`${option}\` must be ${check.expected} (got ${shown(value)})`, { option });
    }
  }
}
