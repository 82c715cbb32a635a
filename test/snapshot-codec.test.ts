import { IDBFactory } from 'fake-indexeddb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// Runs in browsers too (vitest browser mode), where there is no Buffer.
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
import {
  BlobCollector,
  CodecError,
  decodeKey,
  decodeValue,
  encodeKey,
  encodeValue,
  type BlobResolver,
  type Encoded,
} from '../src/snapshot/codec.js';

// ---- helpers ---------------------------------------------------------------------------------------------------

/** Encodes, reads Blobs, writes the NDJSON line, parses it back: the whole trip a snapshot record makes. */
async function roundTrip(value: unknown, resolver?: BlobResolver): Promise<{ decoded: unknown; line: string }> {
  const blobs = new BlobCollector();
  const encoded = encodeValue(value, blobs);
  if (blobs.size > 0) await blobs.readAll();
  const line = JSON.stringify(encoded);
  return { decoded: decodeValue(JSON.parse(line), resolver), line };
}

function lineOf(value: unknown): string {
  return JSON.stringify(encodeValue(value));
}

function tagOf(value: object): string {
  return Object.prototype.toString.call(value);
}

/**
 * Throws unless `actual` and `expected` are the same object graph: same primitives by Object.is, same prototypes,
 * same own keys in the same order (so holes and extra array properties count), same sharing and cycles (a
 * bijection between their objects). Blob bytes are compared afterwards by {@link assertSame}.
 */
function compareGraphs(actual: unknown, expected: unknown, blobPairs: [Blob, Blob][]): void {
  const forward = new Map<object, object>();
  const backward = new Map<object, object>();
  const fail = (path: string, why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (typeof a !== typeof b) fail(path, `typeof ${typeof a} vs ${typeof b}`);
    if (typeof a !== 'object' || a === null || b === null) {
      if (!Object.is(a, b)) fail(path, `${String(a)} vs ${String(b)}`);
      return;
    }
    const x = a as object;
    const y = b as object;
    if (forward.has(x) || backward.has(y)) {
      if (forward.get(x) !== y || backward.get(y) !== x) fail(path, 'sharing differs');
      return;
    }
    forward.set(x, y);
    backward.set(y, x);
    if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) fail(path, 'prototypes differ');
    const tag = tagOf(x);
    if (tag !== tagOf(y)) fail(path, `${tag} vs ${tagOf(y)}`);
    if (x instanceof Date) {
      if (!Object.is(x.getTime(), (y as Date).getTime())) fail(path, 'times differ');
    } else if (x instanceof RegExp) {
      const r = y as RegExp;
      if (x.source !== r.source || x.flags !== r.flags || x.lastIndex !== r.lastIndex) fail(path, 'RegExps differ');
    } else if (x instanceof Map) {
      const m = y as Map<unknown, unknown>;
      if (x.size !== m.size) fail(path, 'Map sizes differ');
      const other = [...m];
      [...x].forEach(([k, v], i) => {
        walk(k, other[i]![0], `${path}{key ${i}}`);
        walk(v, other[i]![1], `${path}{value ${i}}`);
      });
    } else if (x instanceof Set) {
      const other = [...(y as Set<unknown>)];
      if (x.size !== other.length) fail(path, 'Set sizes differ');
      [...x].forEach((v, i) => {
        walk(v, other[i], `${path}{item ${i}}`);
      });
    } else if (x instanceof ArrayBuffer) {
      const o = y as ArrayBuffer & { resizable?: boolean; maxByteLength?: number };
      const p = x as ArrayBuffer & { resizable?: boolean; maxByteLength?: number };
      if (p.resizable !== o.resizable || p.maxByteLength !== o.maxByteLength) fail(path, 'resizability differs');
      if (!sameBytes(new Uint8Array(x), new Uint8Array(o))) fail(path, 'bytes differ');
    } else if (ArrayBuffer.isView(x)) {
      const v = y as ArrayBufferView;
      if (x.byteOffset !== v.byteOffset || x.byteLength !== v.byteLength) fail(path, 'view ranges differ');
      walk(x.buffer, v.buffer, `${path}.buffer`);
    } else if (x instanceof Number || x instanceof String || x instanceof Boolean || x instanceof BigInt) {
      if (!Object.is(x.valueOf(), (y as typeof x).valueOf())) fail(path, 'boxed values differ');
    } else if (x instanceof Error) {
      const e = y as Error;
      if (x.name !== e.name) fail(path, `names ${x.name} vs ${e.name}`);
      // V8's structured clone gives an Error without stack an own stack of undefined: compare values only.
      if (x.stack !== e.stack) fail(path, 'stacks differ');
      for (const key of ['message', 'cause']) {
        const dx = Object.getOwnPropertyDescriptor(x, key);
        const dy = Object.getOwnPropertyDescriptor(e, key);
        if ((dx === undefined) !== (dy === undefined)) fail(path, `own ${key} present in one only`);
        if (dx !== undefined && dy !== undefined) {
          if (dx.enumerable !== dy.enumerable) fail(path, `${key} enumerability differs`);
          walk(dx.value, dy.value, `${path}.${key}`);
        }
      }
    } else if (typeof Blob !== 'undefined' && x instanceof Blob) {
      const o = y as Blob;
      if (x.size !== o.size || x.type !== o.type) fail(path, 'Blobs differ');
      if (x instanceof File && (x.name !== (o as File).name || x.lastModified !== (o as File).lastModified)) {
        fail(path, 'Files differ');
      }
      blobPairs.push([x, o]);
    } else if (tag !== '[object Object]' && tag !== '[object Array]') {
      fail(path, `unexpected ${tag}`);
    }
    // Structured clone copies no properties of other objects (a boxed string's indices, an Error's extras).
    if (tag !== '[object Object]' && tag !== '[object Array]') return;
    if (Array.isArray(x) && x.length !== (y as unknown[]).length) fail(path, 'lengths differ');
    // Own enumerable string keys, in order, as data properties: what structured clone copies.
    const keysA = Object.keys(x);
    const keysB = Object.keys(y);
    if (keysA.join('\u0000') !== keysB.join('\u0000') || keysA.length !== keysB.length) {
      fail(path, `keys [${keysA.join(',')}] vs [${keysB.join(',')}]`);
    }
    for (const key of keysA) {
      const dy = Object.getOwnPropertyDescriptor(y, key)!;
      if (!('value' in dy) || !dy.writable || !dy.configurable) fail(`${path}.${key}`, 'not a plain data property');
      walk((x as Record<string, unknown>)[key], dy.value, `${path}.${key}`);
    }
  };
  walk(actual, expected, '$');
}

async function assertSame(actual: unknown, expected: unknown): Promise<void> {
  const blobPairs: [Blob, Blob][] = [];
  compareGraphs(actual, expected, blobPairs);
  for (const [a, b] of blobPairs) {
    const [x, y] = await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
    if (!sameBytes(new Uint8Array(x), new Uint8Array(y))) throw new Error('Blob bytes differ');
  }
}

function expectCodecError(run: () => unknown, path?: string): CodecError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CodecError);
  const error = caught as CodecError;
  expect(error.name).toBe('CodecError');
  if (path !== undefined) expect(error.path).toBe(path);
  return error;
}

function sparse(length: number, entries: Record<number, unknown>, extra: Record<string, unknown> = {}): unknown[] {
  const array: unknown[] = new Array<unknown>(length);
  for (const [k, v] of Object.entries(entries)) array[Number(k)] = v;
  return Object.assign(array, extra);
}

function withOwnProto(value: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  Object.defineProperty(object, '__proto__', { value, writable: true, enumerable: true, configurable: true });
  return Object.assign(object, extra);
}

// ---- the comparator itself must notice differences, or every test below could pass vacuously ---------------

describe('the test comparator', () => {
  const differs = (a: unknown, b: unknown): boolean => {
    try {
      compareGraphs(a, b, []);
      return false;
    } catch {
      return true;
    }
  };
  it('tells apart what JSON would confuse', () => {
    const shared = { x: 1 };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(differs(-0, 0)).toBe(true);
    expect(differs(Number.NaN, null)).toBe(true);
    expect(differs([undefined], sparse(1, {}))).toBe(true);
    expect(differs(Object.assign([1], { x: 1 }), [1])).toBe(true);
    expect(differs([shared, shared], [{ x: 1 }, { x: 1 }])).toBe(true);
    expect(differs(cyclic, { self: {} })).toBe(true);
    expect(differs(new Date(1), new Date(2))).toBe(true);
    expect(
      differs(
        new Map([
          [1, 2],
          [3, 4],
        ]),
        new Map([
          [3, 4],
          [1, 2],
        ]),
      ),
    ).toBe(true);
    expect(differs({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(differs(Object.create(null), {})).toBe(true);
    expect(differs(new TypeError('m'), new Error('m'))).toBe(true);
    expect(differs(new Uint8Array([1]), new Int8Array([1]))).toBe(true);
    expect(differs(new Uint8Array(new ArrayBuffer(4), 1, 2), new Uint8Array(2))).toBe(true);
    expect(differs(Object(1n), 1n)).toBe(true);
    expect(differs(/a/g, /a/i)).toBe(true);
  });
  it('accepts equal graphs', () => {
    const a: Record<string, unknown> = { d: new Date(3), m: new Map([[1, [2]]]) };
    a.self = a;
    const b: Record<string, unknown> = { d: new Date(3), m: new Map([[1, [2]]]) };
    b.self = b;
    expect(differs(a, b)).toBe(false);
  });
});

// ---- every special value -------------------------------------------------------------------------------------

class Point {
  x = 1;
  y = 2;
  get length(): number {
    return Math.hypot(this.x, this.y);
  }
  toJSON(): string {
    return 'a toJSON must not leak into the snapshot';
  }
}

const buffer = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]).buffer;
const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
const errorWithoutStack = new RangeError('no stack');
delete errorWithoutStack.stack;

const specialValues: [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  ['true', true],
  ['false', false],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['-0', -0],
  ['0', 0],
  ['MAX_VALUE', Number.MAX_VALUE],
  ['MIN_VALUE', Number.MIN_VALUE],
  ['empty string', ''],
  ['lone high surrogate', '\ud800'],
  ['lone low surrogate', 'a\udc00b'],
  ['surrogate pair', '\ud83d\ude00'],
  ['control characters', '\u0000\u001f\u2028\u2029"\\'],
  ['BigInt', 123456789012345678901234567890n],
  ['negative BigInt', -1n],
  ['boxed number', new Number(-0)],
  ['boxed NaN', new Number(Number.NaN)],
  ['boxed string', new String('s')],
  ['boxed boolean', new Boolean(false)],
  ['boxed BigInt', Object(-5n)],
  ['Date', new Date(1700000000000)],
  ['Date before 1970', new Date(-8.64e15)],
  ['invalid Date', new Date(Number.NaN)],
  ['RegExp', /a+b?\/[^\]]/gimsuy],
  ['RegExp with lastIndex', Object.assign(/x/g, { lastIndex: 5 })],
  ['ArrayBuffer', buffer],
  ['empty ArrayBuffer', new ArrayBuffer(0)],
  // The ES2023 lib this project compiles against predates resizable buffers.
  [
    'resizable ArrayBuffer',
    new (ArrayBuffer as new (length: number, options: { maxByteLength: number }) => ArrayBuffer)(3, {
      maxByteLength: 12,
    }),
  ],
  ['Int8Array', new Int8Array([-128, 127])],
  ['Uint8Array', new Uint8Array([0, 255])],
  ['Uint8ClampedArray', new Uint8ClampedArray([0, 255])],
  ['Int16Array', new Int16Array([-32768, 32767])],
  ['Uint16Array', new Uint16Array([65535])],
  ['Int32Array', new Int32Array([-(2 ** 31)])],
  ['Uint32Array', new Uint32Array([2 ** 32 - 1])],
  ['Float32Array', new Float32Array([Number.NaN, -0, Number.POSITIVE_INFINITY, 1.5])],
  ['Float64Array', new Float64Array([Number.NaN, -0, Number.NEGATIVE_INFINITY, Math.PI])],
  ['BigInt64Array', new BigInt64Array([-(2n ** 63n)])],
  ['BigUint64Array', new BigUint64Array([2n ** 64n - 1n])],
  ['view into part of a buffer', new Uint16Array(buffer, 4, 3)],
  ['DataView', new DataView(buffer, 3, 5)],
  ...(typeof Buffer === 'undefined' ? [] : [['Node Buffer (a Uint8Array)', Buffer.from('hi')] as [string, unknown]]),
  [
    'views sharing a buffer',
    [new Uint8Array(buffer, 1, 2), new Int32Array(buffer, 8, 2), new DataView(buffer), buffer],
  ],
  [
    'Map with object keys',
    new Map<unknown, unknown>([
      [{ k: 1 }, 'v'],
      [Number.NaN, -0],
      [undefined, null],
    ]),
  ],
  ['Set', new Set([1, '1', 1n, undefined, { a: 1 }])],
  ['plain object', { a: 1, b: 'two', c: [true, null] }],
  ['object with a "$" key', { $: 'd', v: 1 }],
  ['object with a tagged-looking value', { $: { $: 'u' } }],
  ['nested "$" keys', { a: { $: 1, b: { $: undefined } } }],
  ['own __proto__ key', withOwnProto({ polluted: 1 })],
  ['own __proto__ key beside a Date', withOwnProto(new Date(0), { d: new Date(1) })],
  ['own __proto__ key beside "$"', withOwnProto(1, { $: 2 })],
  ['constructor and prototype keys', { constructor: { prototype: { polluted: 1 } }, prototype: 1 }],
  ['integer-like keys', { b: 1, 10: 2, 2: 3, '-1': 4, '01': 5 }],
  ['empty object', {}],
  ['empty array', []],
  ['sparse array', sparse(5, { 1: 'one', 3: undefined })],
  ['only holes', sparse(3, {})],
  ['huge sparse array', sparse(2 ** 32 - 1, { 0: 'first', [2 ** 32 - 2]: 'last' })],
  ['array with extra properties', Object.assign([1, 2], { x: 1, $: 2, '4294967295': 'not an index' })],
  ['holes and extras that balance', sparse(2, { 1: 'b' }, { extra: true })],
  [
    'array with own __proto__',
    Object.defineProperty([1], '__proto__', { value: 2, enumerable: true, writable: true, configurable: true }),
  ],
  ['Error', new Error('plain')],
  ['Error without message', new Error()],
  ['TypeError with cause', new TypeError('t', { cause: { why: [1, 2] } })],
  ['Error with undefined cause', new Error('u', { cause: undefined })],
  [
    'every standard Error',
    [new EvalError('e'), new RangeError('r'), new ReferenceError('r'), new SyntaxError('s'), new URIError('u')],
  ],
  ['Error with a custom name', Object.assign(new Error('custom'), { name: 'MyError' })],
  ['Error without stack', errorWithoutStack],
  ['AggregateError', new AggregateError([1], 'agg')],
  ['class instance', new Point()],
  ['null-prototype object', nullProto],
  [
    'object with a getter',
    {
      get g(): number {
        return 42;
      },
    },
  ],
  ['array subclass', Object.assign(new (class List extends Array<number> {})(), [1, 2])],
  ['deeply mixed', { list: [new Map([['k', new Set([new Date(0), [-0]])]])], big: [1n, Object(2n)] }],
];

describe('encodeValue / decodeValue: every special value', () => {
  it.each(specialValues)('%s matches structured clone', async (_name, value) => {
    const { decoded } = await roundTrip(value);
    await assertSame(decoded, structuredClone(value));
  });

  it.each(specialValues)('%s survives a second trip unchanged', async (_name, value) => {
    const { decoded, line } = await roundTrip(value);
    const again = await roundTrip(decoded);
    expect(again.line).toBe(line);
  });

  it('shares one buffer between views after decoding', async () => {
    const { decoded } = await roundTrip(specialValues.find(([name]) => name === 'views sharing a buffer')![1]);
    const [a, b, c, d] = decoded as [Uint8Array, Int32Array, DataView, ArrayBuffer];
    expect(a.buffer).toBe(d);
    expect(b.buffer).toBe(d);
    expect(c.buffer).toBe(d);
    expect([a.byteOffset, a.length, b.byteOffset, b.length]).toEqual([1, 2, 8, 2]);
    a[0] = 99;
    expect(new Uint8Array(d)[1]).toBe(99);
  });

  it('keeps lone surrogates, which JSON.stringify escapes', async () => {
    const { decoded, line } = await roundTrip('\ud800\udfff\udc00');
    expect(line).toBe('"\ud800\udfff\\udc00"');
    expect(decoded).toBe('\ud800\udfff\udc00');
  });

  it('resets RegExp lastIndex, as IndexedDB does', async () => {
    const { decoded } = await roundTrip(Object.assign(/x/g, { lastIndex: 5 }));
    expect((decoded as RegExp).lastIndex).toBe(0);
  });

  it('makes class instances and null-prototype objects plain, dropping toJSON and getters', async () => {
    const { decoded, line } = await roundTrip({ p: new Point(), n: nullProto });
    expect(line).toBe('{"p":{"x":1,"y":2},"n":{"a":1}}');
    expect(Object.getPrototypeOf((decoded as { p: object }).p)).toBe(Object.prototype);
    expect(Object.getPrototypeOf((decoded as { n: object }).n)).toBe(Object.prototype);
  });

  it('keeps Error name, message, stack and cause; other names become Error, as structured clone does', async () => {
    const error = new TypeError('boom', { cause: new RangeError('inner') });
    const decoded = (await roundTrip(error)).decoded as TypeError;
    expect(decoded).toBeInstanceOf(TypeError);
    expect(decoded.message).toBe('boom');
    expect(decoded.stack).toBe(error.stack);
    expect(decoded.cause).toBeInstanceOf(RangeError);
    expect(Object.keys(decoded)).toEqual([]);
    const custom = (await roundTrip(Object.assign(new Error('x'), { name: 'MyError' }))).decoded as Error;
    expect(custom.name).toBe('Error');
    const noStack = (await roundTrip(errorWithoutStack)).decoded as Error;
    expect(Object.hasOwn(noStack, 'stack')).toBe(false);
  });
});

// ---- the format itself -----------------------------------------------------------------------------------------

describe('encoding format', () => {
  it.each<[string, unknown, string]>([
    [
      'JSON-safe record',
      { id: 1, title: 'a', tags: ['x'], done: false, n: null },
      '{"id":1,"title":"a","tags":["x"],"done":false,"n":null}',
    ],
    ['undefined', { u: undefined }, '{"u":{"$":"u"}}'],
    [
      'special numbers',
      [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
      '[{"$":"n","v":"NaN"},{"$":"n","v":"Infinity"},{"$":"n","v":"-Infinity"},{"$":"n","v":"-0"}]',
    ],
    ['BigInt', 10n, '{"$":"bi","v":"10"}'],
    ['Date', new Date(1700000000000), '{"$":"d","v":1700000000000}'],
    ['invalid Date', new Date(Number.NaN), '{"$":"d","v":null}'],
    ['RegExp', /a/gi, '{"$":"re","s":"a","f":"gi"}'],
    ['"$" key', { $: 1 }, '{"$":"o","v":{"$":1}}'],
    ['shared object', [{}, {}].fill({ a: 1 }), '[{"a":1},{"$":"r","v":1}]'],
    ['sparse array', sparse(3, { 1: 'b' }), '{"$":"a","l":3,"v":{"1":"b"}}'],
    ['Map', new Map([[1, 'a']]), '{"$":"map","v":[1,"a"]}'],
    ['Set', new Set(['a']), '{"$":"set","v":["a"]}'],
    ['typed array', new Uint16Array([1]), '{"$":"ta","t":"Uint16Array","b":{"$":"ab","v":"AQA="},"o":0,"l":1}'],
    ['DataView', new DataView(new ArrayBuffer(2), 1), '{"$":"dv","b":{"$":"ab","v":"AAA="},"o":1,"l":1}'],
    [
      'boxed',
      [new Number(1), new String('s'), Object(1n)],
      '[{"$":"box","v":1},{"$":"box","v":"s"},{"$":"box","v":{"$":"bi","v":"1"}}]',
    ],
  ])('%s', (_name, value, line) => {
    expect(lineOf(value)).toBe(line);
  });

  it('encodes an Error with its name, message, stack and cause', () => {
    const error = new TypeError('m', { cause: 1 });
    expect(encodeValue(error)).toEqual({ $: 'err', n: 'TypeError', m: 'm', s: error.stack, c: 1 });
  });

  it('returns JSON-safe values themselves, without copying', () => {
    fc.assert(
      fc.property(jsonSafe, (value) => {
        expect(encodeValue(value)).toBe(value);
      }),
    );
  });

  it('copies only what changes and never mutates its input', () => {
    const tags = ['a', 'b'];
    const record = { tags, at: new Date(0), nested: { x: 1 } };
    const encoded = encodeValue(record) as Record<string, Encoded>;
    expect(encoded).not.toBe(record);
    expect(encoded.tags).toBe(tags);
    expect(encoded.nested).toBe(record.nested);
    expect(record.at).toBeInstanceOf(Date);
  });

  it('refers to objects by their order of first appearance, depth first', () => {
    const a = { a: 1 };
    const b = [a];
    const value = { b, a, m: new Map([[b, a]]) };
    expect(lineOf(value)).toBe(
      '{"b":[{"a":1}],"a":{"$":"r","v":2},"m":{"$":"map","v":[{"$":"r","v":1},{"$":"r","v":2}]}}',
    );
  });
});

// ---- errors ----------------------------------------------------------------------------------------------------

describe('encodeValue rejects what IndexedDB cannot store', () => {
  it.each<[string, unknown, string]>([
    ['function', { a: { b: [1, () => 1] } }, '$.a.b[1]'],
    ['symbol', { s: Symbol('s') }, '$.s'],
    ['boxed symbol', [Object(Symbol('s'))], '$[0]'],
    ['WeakMap', { 'odd key': new WeakMap() }, '$["odd key"]'],
    ['WeakSet', new WeakSet(), '$'],
    ['Promise', { p: Promise.resolve() }, '$.p'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the codec's own path notation, not a template
    ['function in a Map value', new Map([['k', () => 1]]), '${entry 0}'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the codec's own path notation, not a template
    ['function in a Set', new Set([1, Math.max]), '${item 1}'],
    ['function in a cause', new Error('e', { cause: { f: () => 1 } }), '$.cause.f'],
    ['function in a sparse array', sparse(3, { 2: () => 1 }), '$[2]'],
    // Pages that are not cross-origin isolated have no SharedArrayBuffer.
    ...(typeof SharedArrayBuffer === 'undefined'
      ? []
      : ([
          ['SharedArrayBuffer', { s: new SharedArrayBuffer(1) }, '$.s'],
          ['view on a SharedArrayBuffer', new Uint8Array(new SharedArrayBuffer(1)), '$.buffer'],
        ] as [string, unknown, string][])),
  ])('%s', (_name, value, path) => {
    const error = expectCodecError(() => encodeValue(value), path);
    expect(error.message).toContain(`at ${path}`);
  });

  it('rejects a Blob without a collector', () => {
    expectCodecError(() => encodeValue({ b: new Blob(['x']) }), '$.b');
  });

  it('rejects a detached ArrayBuffer', () => {
    const detached = new ArrayBuffer(4);
    structuredClone(detached, { transfer: [detached] });
    expectCodecError(() => encodeValue([detached]), '$[0]');
  });

  it('rejects nesting deeper than 1000, and handles exactly 1000', async () => {
    const nest = (levels: number, make: (inner: unknown) => unknown): unknown => {
      let value: unknown = 'leaf';
      for (let i = 0; i < levels; i++) value = make(value);
      return value;
    };
    for (const make of [(v: unknown) => [v], (v: unknown) => new Map([[1, v]]), (v: unknown) => ({ $: v })]) {
      const { decoded } = await roundTrip(nest(1000, make));
      await assertSame(decoded, nest(1000, make));
      expectCodecError(() => encodeValue(nest(1001, make)));
    }
  });

  it('keeps encoding usable after a failure and inside a getter', () => {
    expectCodecError(() => encodeValue({ f: () => 1 }));
    const inner = {
      get x(): string {
        return lineOf({ d: new Date(0) });
      },
    };
    const shared = { s: 1 };
    expect(lineOf([shared, inner, shared])).toBe(
      '[{"s":1},{"x":"{\\"d\\":{\\"$\\":\\"d\\",\\"v\\":0}}"},{"$":"r","v":1}]',
    );
  });
});

// ---- shared references and cycles ----------------------------------------------------------------------------

describe('shared references and cycles', () => {
  it('restores a self-cycle, mutual cycles and shared leaves', async () => {
    const shared = { leaf: true };
    const a: Record<string, unknown> = { shared };
    const b: Record<string, unknown> = { a, shared };
    a.b = b;
    a.self = a;
    const list: unknown[] = [a, b, shared];
    list.push(list);
    const map = new Map<unknown, unknown>([[list, a]]);
    map.set(map, map);
    const set = new Set<unknown>([shared]);
    set.add(set);
    const error = new Error('shared');
    const value = { list, map, set, error, again: [map, set, error] };
    const { decoded } = await roundTrip(value);
    await assertSame(decoded, structuredClone(value));
    const d = decoded as typeof value;
    expect(d.map.get(d.map)).toBe(d.map);
    expect(d.again[2]).toBe(d.error);
  });

  it('restores an Error that is its own cause (which V8 structured clone cannot)', async () => {
    const error = new Error('loop');
    (error as { cause?: unknown }).cause = [error];
    const decoded = (await roundTrip(error)).decoded as Error & { cause: unknown[] };
    expect(decoded.message).toBe('loop');
    expect(decoded.cause[0]).toBe(decoded);
  });

  it('shares Blobs and encodes their bytes once', async () => {
    const blob = new Blob(['shared bytes']);
    const { decoded, line } = await roundTrip([blob, { again: blob }]);
    const [first, { again }] = decoded as [Blob, { again: Blob }];
    expect(again).toBe(first);
    expect(line.match(/c2hhcmVkIGJ5dGVz/g)).toHaveLength(1);
  });

  it('switches from a list to a Map past many objects without changing ids', async () => {
    const objects = Array.from({ length: 100 }, (_, i) => ({ i }));
    const value = [...objects, ...objects.reverse()];
    const { decoded } = await roundTrip(value);
    await assertSame(decoded, structuredClone(value));
  });
});

// ---- property tests ------------------------------------------------------------------------------------------

const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: anyCodeUnit, maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const trickyKey = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 6 }) },
  fc.constantFrom(
    '$',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'length',
    '0',
    '1',
    '10',
    '-0',
    '01',
    '$$',
    'v',
  ),
  anyString,
);

function objectFrom(entries: [string, unknown][]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return object;
}

const jsonSafe: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .array(
        fc.tuple(
          fc.string({ maxLength: 6 }).filter((k) => k !== '$'),
          tie('value'),
        ),
        { maxLength: 4 },
      )
      .map(objectFrom),
  ),
})).value;

const errorConstructors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError];
type ViewConstructor = {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBuffer, offset: number, length: number): ArrayBufferView;
};
const typedArrays: Record<string, ViewConstructor> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

/** A buffer and views into it at aligned offsets, maybe with the buffer itself: how records hold binary data. */
const views = fc
  .record({
    bytes: fc.uint8Array({ maxLength: 48 }),
    specs: fc.array(
      fc.record({ name: fc.constantFrom(...Object.keys(typedArrays), 'DataView'), start: fc.nat(), count: fc.nat() }),
      {
        maxLength: 4,
      },
    ),
    withBuffer: fc.boolean(),
  })
  .map(({ bytes, specs, withBuffer }) => {
    const buffer = bytes.slice().buffer;
    const out: unknown[] = specs.map(({ name, start, count }) => {
      if (name === 'DataView') {
        const offset = start % (buffer.byteLength + 1);
        return new DataView(buffer, offset, Math.min(count, buffer.byteLength - offset));
      }
      const ctor = typedArrays[name]!;
      const slots = Math.floor(buffer.byteLength / ctor.BYTES_PER_ELEMENT);
      const first = start % (slots + 1);
      return new ctor(buffer, first * ctor.BYTES_PER_ELEMENT, Math.min(count, slots - first));
    });
    if (withBuffer) out.push(buffer);
    return out;
  });

const leaf = fc.oneof(
  anyString,
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: false }).map((d) => new Date(d.getTime())),
  fc
    .constantFrom('', 'g', 'gimsuy', 'd')
    .chain((flags) => anyString.map((s) => new RegExp(s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'), flags))),
  fc.double().map((n) => new Number(n)),
  anyString.map((s) => new String(s)),
  fc.boolean().map((b) => new Boolean(b)),
  fc.bigInt().map((b) => Object(b) as object),
  fc.int8Array(),
  fc.uint16Array(),
  fc.float32Array(),
  fc.float64Array(),
  fc.bigInt64Array(),
  fc.bigUint64Array(),
  fc.uint8ClampedArray(),
  views,
  fc
    .record({
      bytes: fc.uint8Array({ maxLength: 16 }),
      type: fc.constantFrom('', 'text/plain', 'application/octet-stream'),
    })
    .map(({ bytes, type }) => new Blob([bytes], { type })),
);

const cloneable: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('container')),
  container: fc.oneof(
    fc.array(tie('value'), { maxLength: 5 }),
    fc.sparseArray(tie('value'), { maxLength: 6 }),
    fc
      .tuple(
        fc.array(tie('value'), { maxLength: 3 }),
        fc.array(
          fc.tuple(
            trickyKey.filter((k) => !/^(?:0|[1-9]\d*)$/.test(k) && k !== 'length'),
            tie('value'),
          ),
          { maxLength: 2 },
        ),
      )
      .map(([items, extras]) => {
        for (const [key, value] of extras)
          Object.defineProperty(items, key, { value, writable: true, enumerable: true, configurable: true });
        return items;
      }),
    fc.array(fc.tuple(trickyKey, tie('value')), { maxLength: 5 }).map(objectFrom),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => new Set(items)),
    fc
      .record({
        ctor: fc.constantFrom(...errorConstructors),
        message: fc.option(anyString, { nil: undefined }),
        cause: fc.option(tie('value'), { nil: undefined, freq: 2 }),
        hasCause: fc.boolean(),
      })
      .map(({ ctor, message, cause, hasCause }) => (hasCause ? new ctor(message, { cause }) : new ctor(message))),
  ),
})).value;

/** Adds links between the containers of a copy of `root`: shared references and cycles. */
const withSharing = fc
  .tuple(cloneable, fc.array(fc.tuple(fc.nat(), fc.nat(), trickyKey), { maxLength: 5 }))
  .map(([root, links]) => {
    const copy = structuredClone(root);
    const containers: object[] = [];
    const seen = new Set<unknown>();
    const collect = (value: unknown): void => {
      if (typeof value !== 'object' || value === null || seen.has(value)) return;
      seen.add(value);
      if (Array.isArray(value) || value instanceof Map || value instanceof Set || tagOf(value) === '[object Object]')
        containers.push(value);
      if (value instanceof Map) {
        value.forEach((v, k) => {
          collect(k);
          collect(v);
        });
      } else if (value instanceof Set) value.forEach(collect);
      else if (value instanceof Error) collect((value as { cause?: unknown }).cause);
      else if (!ArrayBuffer.isView(value)) Object.values(value).forEach(collect);
    };
    collect(copy);
    for (const [from, to, key] of links) {
      if (containers.length === 0) break;
      const source = containers[from % containers.length]!;
      const target = containers[to % containers.length]!;
      if (source instanceof Map) source.set(key, target);
      else if (source instanceof Set) source.add(target);
      else if (Array.isArray(source)) source.push(target);
      else Object.defineProperty(source, key, { value: target, writable: true, enumerable: true, configurable: true });
    }
    return copy;
  });

describe('property: decode(encode(x)) is structuredClone(x)', () => {
  it('for generated values of every kind', async () => {
    await fc.assert(
      fc.asyncProperty(cloneable, async (value) => {
        const { decoded } = await roundTrip(value);
        await assertSame(decoded, structuredClone(value));
      }),
      { numRuns: 500 },
    );
  });

  it('for generated values with shared references and cycles', async () => {
    await fc.assert(
      fc.asyncProperty(withSharing, async (value) => {
        const { decoded } = await roundTrip(value);
        await assertSame(decoded, structuredClone(value));
      }),
      { numRuns: 300 },
    );
  });

  it('without changing the input', async () => {
    await fc.assert(
      fc.asyncProperty(withSharing, async (value) => {
        const before = structuredClone(value);
        await roundTrip(value);
        await assertSame(value, before);
      }),
      { numRuns: 100 },
    );
  });
});

// ---- Blobs and Files -----------------------------------------------------------------------------------------

describe('Blob and File', () => {
  it('round-trip bytes, type, name and lastModified', async () => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
    const value = {
      blob: new Blob([bytes], { type: 'application/octet-stream' }),
      empty: new Blob([]),
      file: new File(['héllo'], 'notes/ünïcode.txt', { type: 'text/plain', lastModified: 1700000000123 }),
    };
    const { decoded } = await roundTrip(value);
    await assertSame(decoded, value);
    const d = decoded as typeof value;
    expect(d.file).toBeInstanceOf(File);
    expect(await d.file.text()).toBe('héllo');
    expect(new Uint8Array(await d.blob.arrayBuffer())).toEqual(bytes);
  });

  it('leaves placeholders that fail to decode until readAll() fills them', async () => {
    const blobs = new BlobCollector();
    const encoded = encodeValue({ b: new Blob(['x']) }, blobs);
    expect(blobs.size).toBe(1);
    const error = expectCodecError(() => decodeValue(JSON.parse(JSON.stringify(encoded))), '$.b.v');
    expect(error.message).toContain('readAll');
    await blobs.readAll();
    expect(blobs.size).toBe(0);
    expect(await (decodeValue(JSON.parse(JSON.stringify(encoded))) as { b: Blob }).b.text()).toBe('x');
  });

  it('serves many records, and can be reused after readAll()', async () => {
    const blobs = new BlobCollector();
    const first = [encodeValue(new Blob(['a']), blobs), encodeValue([new Blob(['b'])], blobs)];
    expect(blobs.size).toBe(2);
    await blobs.readAll();
    const second = encodeValue(new File(['c'], 'c.txt'), blobs);
    expect(blobs.size).toBe(1);
    await blobs.readAll();
    const texts = await Promise.all(
      [...first, second].map(async (e) => {
        const decoded = decodeValue(JSON.parse(JSON.stringify(e)));
        return (Array.isArray(decoded) ? (decoded[0] as Blob) : (decoded as Blob)).text();
      }),
    );
    expect(texts).toEqual(['a', 'b', 'c']);
  });

  it('reads a Blob met in several records once, and fills every placeholder', async () => {
    const blob = new Blob(['once']);
    let reads = 0;
    const read = blob.arrayBuffer.bind(blob);
    blob.arrayBuffer = () => {
      reads++;
      return read();
    };
    const blobs = new BlobCollector();
    const records = [encodeValue({ blob }, blobs), encodeValue([blob, blob], blobs)];
    expect(blobs.size).toBe(2);
    await blobs.readAll();
    expect(reads).toBe(1);
    expect(JSON.stringify(records)).toBe(
      '[{"blob":{"$":"blob","t":"","v":"b25jZQ=="}},[{"$":"blob","t":"","v":"b25jZQ=="},{"$":"r","v":1}]]',
    );
  });

  it('rejects when a Blob cannot be read, leaving its placeholder empty', async () => {
    const blob = new Blob(['x']);
    blob.arrayBuffer = () => Promise.reject(new DOMException('gone', 'NotReadableError'));
    const blobs = new BlobCollector();
    const encoded = encodeValue([blob], blobs);
    await expect(blobs.readAll()).rejects.toThrow('gone');
    expectCodecError(() => decodeValue(JSON.parse(JSON.stringify(encoded))), '$[0].v');
  });

  it('uses a BlobResolver when given one', async () => {
    const seen: unknown[] = [];
    const resolver: BlobResolver = (bytes, info) => {
      seen.push([[...bytes], info]);
      return new Blob([bytes], { type: 'resolved/type' });
    };
    const { decoded } = await roundTrip([new File(['z'], 'z.bin', { type: 't', lastModified: 5 })], resolver);
    expect(seen).toEqual([[[122], { kind: 'file', type: 't', name: 'z.bin', lastModified: 5 }]]);
    expect((decoded as Blob[])[0]!.type).toBe('resolved/type');
  });

  it('turns a failing BlobResolver into a CodecError', () => {
    const line = '{"$":"blob","t":"","v":""}';
    const error = expectCodecError(() =>
      decodeValue(JSON.parse(line), () => {
        throw new TypeError('no Blob here');
      }),
    );
    expect(error.cause).toBeInstanceOf(TypeError);
  });
});

// ---- untrusted input -----------------------------------------------------------------------------------------

describe('decodeValue on untrusted input', () => {
  it.each<[string, string, string]>([
    ['unknown tag', '{"a":{"b":[0,1,2,{"$":"nope"}]}}', '$.a.b[3].$'],
    ['non-string tag', '[{"$":1}]', '$[0].$'],
    ['bad special number', '{"$":"n","v":"1"}', '$.v'],
    ['bad BigInt', '{"$":"bi","v":"1e3"}', '$.v'],
    ['BigInt with leading zero', '{"$":"bi","v":"01"}', '$.v'],
    ['reference before any object', '{"$":"r","v":0}', '$.v'],
    ['reference out of range', '[{"$":"r","v":1}]', '$[0].v'],
    ['fractional reference', '[{"$":"r","v":0.5}]', '$[0].v'],
    ['negative reference', '[{"$":"r","v":-1}]', '$[0].v'],
    ['reference to an unfinished view', '{"$":"ta","t":"Uint8Array","b":{"$":"r","v":0},"o":0,"l":0}', '$.b.v'],
    ['reference to a non-buffer', '[[],{"$":"dv","b":{"$":"r","v":1},"o":0,"l":0}]', '$[1].b'],
    ['escaped object with an array', '{"$":"o","v":[]}', '$.v'],
    ['sparse array with an index past its length', '{"$":"a","l":1,"v":{"1":0}}', '$.v["1"]'],
    ['sparse array setting length', '{"$":"a","l":1,"v":{"length":5}}', '$.v.length'],
    ['sparse array too long', '{"$":"a","l":4294967296,"v":{}}', '$.l'],
    ['Date out of range', '{"$":"d","v":8640000000000001}', '$.v'],
    ['fractional Date', '{"$":"d","v":1.5}', '$.v'],
    ['Date as string', '{"$":"d","v":"2020-01-01"}', '$.v'],
    ['invalid RegExp', '{"$":"re","s":"(","f":""}', '$'],
    ['invalid RegExp flags', '{"$":"re","s":"a","f":"gg"}', '$'],
    ['box of an object', '{"$":"box","v":{}}', '$.v'],
    ['box of null', '{"$":"box","v":null}', '$.v'],
    ['bad base64', '{"$":"ab","v":"AQ="}', '$.v'],
    ['base64 with whitespace', '{"$":"ab","v":"AQ== "}', '$.v'],
    ['base64 with a bad character', '{"$":"ab","v":"A*=="}', '$.v'],
    ['resizable max below length', '{"$":"ab","v":"AQI=","m":1}', '$.m'],
    ['unknown typed array', '{"$":"ta","t":"Float128Array","b":{"$":"ab","v":""},"o":0,"l":0}', '$.t'],
    ['DataView as a typed array', '{"$":"ta","t":"DataView","b":{"$":"ab","v":""},"o":0,"l":0}', '$.t'],
    ['view past its buffer', '{"$":"ta","t":"Uint8Array","b":{"$":"ab","v":"AQI="},"o":1,"l":2}', '$'],
    ['misaligned view', '{"$":"ta","t":"Uint16Array","b":{"$":"ab","v":"AQID"},"o":1,"l":1}', '$'],
    ['Map with odd entries', '{"$":"map","v":[1]}', '$.v'],
    ['Set without items', '{"$":"set"}', '$.v'],
    ['bad item inside a Map', '{"$":"map","v":[1,{"$":"x"}]}', '$.v[1].$'],
    ['Error without name', '{"$":"err"}', '$.n'],
    ['Error with numeric message', '{"$":"err","n":"Error","m":1}', '$.m'],
    ['Blob without type', '{"$":"blob","v":""}', '$.t'],
    ['File without name', '{"$":"file","t":"","lm":0,"v":""}', '$.n'],
    ['File with string lastModified', '{"$":"file","t":"","n":"a","lm":"0","v":""}', '$.lm'],
    ['bad base64 in a Blob', '{"$":"blob","t":"","v":"!"}', '$.v'],
    ['odd key in the path', '{"a b":{"$":"?"}}', '$["a b"].$'],
  ])('%s', (_name, line, path) => {
    expectCodecError(() => decodeValue(JSON.parse(line)), path);
  });

  it('rejects what JSON.parse cannot produce', () => {
    expectCodecError(() => decodeValue(undefined), '$');
    expectCodecError(() => decodeValue({ a: [1, () => 1] }), '$.a[1]');
    expectCodecError(() => decodeValue({ a: 1n }), '$.a');
  });

  it('accepts unknown extra fields on known tags', () => {
    expect(decodeValue(JSON.parse('{"$":"d","v":0,"future":true}'))).toEqual(new Date(0));
  });

  it('rejects deep nesting quickly instead of overflowing the stack', () => {
    const started = performance.now();
    for (const [open, close] of [
      ['[', ']'],
      ['{"a":', '}'],
      ['{"$":"map","v":[1,', ']}'],
      ['{"$":"err","n":"Error","c":', '}'],
    ]) {
      const line = `${open!.repeat(100_000)}0${close!.repeat(100_000)}`;
      expect(expectCodecError(() => decodeValue(JSON.parse(line))).message).toContain('nesting deeper than 1000');
      // The limit is the encoder's: 1000 levels decode, 1001 do not.
      expect(() => decodeValue(JSON.parse(`${open!.repeat(1000)}0${close!.repeat(1000)}`))).not.toThrow();
      expectCodecError(() => decodeValue(JSON.parse(`${open!.repeat(1001)}0${close!.repeat(1001)}`)));
    }
    expect(expectCodecError(() => decodeKey(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)))).message).toContain(
      'nesting deeper than 1000',
    );
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('never changes a prototype, whatever the keys', () => {
    const lines = [
      '{"__proto__":{"polluted":1}}',
      '{"a":{"__proto__":{"polluted":1}},"d":{"$":"d","v":0}}',
      '{"$":"o","v":{"__proto__":{"polluted":1},"$":1}}',
      '{"$":"o","v":{"__proto__":{"$":"d","v":0},"$":1}}',
      '{"$":"a","l":1,"v":{"__proto__":{"polluted":1}}}',
      '{"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1}}',
      '{"__proto__":{"$":"map","v":[]},"x":{"$":"u"}}',
      '[{"__proto__":[]},{"$":"r","v":1}]',
    ];
    for (const line of lines) {
      const decoded = decodeValue(JSON.parse(line)) as Record<string, unknown>;
      const objects = Array.isArray(decoded) ? decoded : [decoded];
      for (const object of objects) {
        if (object === undefined) continue;
        expect(Object.getPrototypeOf(object)).toBe(Array.isArray(object) ? Array.prototype : Object.prototype);
        if (line.includes('"__proto__"') && !Array.isArray(object)) {
          const proto =
            Object.getOwnPropertyDescriptor(object, '__proto__') ??
            Object.getOwnPropertyDescriptor((object as { v?: object }).v ?? {}, '__proto__');
          expect(proto === undefined || 'value' in proto).toBe(true);
        }
      }
    }
    const fromEscape = decodeValue(JSON.parse(lines[3]!)) as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(fromEscape, '__proto__')?.value).toEqual(new Date(0));
    expect(Object.getPrototypeOf(fromEscape)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(Object.getOwnPropertyNames(Array.prototype)).not.toContain('polluted');
  });

  it('ignores enumerable properties someone added to Object.prototype', async () => {
    const value = { a: { b: 1 }, d: new Date(0) };
    const expected = lineOf(value);
    Object.defineProperty(Object.prototype, 'injected', {
      value: { $: 'u' },
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      const { decoded, line } = await roundTrip(value);
      expect(line).toBe(expected);
      expect(Object.keys(decoded as object)).toEqual(['a', 'd']);
      expect(Object.keys((decoded as { a: object }).a)).toEqual(['b']);
    } finally {
      delete (Object.prototype as Record<string, unknown>).injected;
    }
  });

  it('round-trips own __proto__, constructor and prototype keys as data', async () => {
    const value = withOwnProto({ polluted: 1 }, { constructor: { prototype: { polluted: 2 } }, d: new Date(0) });
    const { decoded, line } = await roundTrip(value);
    expect(line).toBe('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"d":{"$":"d","v":0}}');
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toEqual({ polluted: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('only ever throws CodecError on random JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const decode of [decodeValue, decodeKey]) {
          try {
            decode(structuredClone(value));
          } catch (error) {
            expect(error).toBeInstanceOf(CodecError);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  /** JSON shaped like encoded nodes, with random or slightly wrong fields. */
  const nodeLike: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.jsonValue({ maxDepth: 1 }),
      fc
        .record(
          {
            $: fc.constantFrom(
              'u',
              'n',
              'bi',
              'r',
              'o',
              'a',
              'd',
              're',
              'box',
              'ab',
              'ta',
              'dv',
              'map',
              'set',
              'err',
              'blob',
              'file',
              'zz',
            ),
            v: fc.oneof(
              tie('node'),
              fc.integer({ min: -2, max: 8 }),
              fc.constantFrom('NaN', '-0', '12', 'AQID', 'AQ==', '=', ''),
              fc.array(tie('node'), { maxLength: 4 }),
            ),
            l: fc.oneof(fc.integer({ min: -1, max: 5 }), fc.constant(2 ** 32), fc.double()),
            o: fc.integer({ min: -1, max: 5 }),
            b: tie('node'),
            t: fc.constantFrom('Uint8Array', 'Float64Array', 'DataView', 'x', ''),
            m: fc.oneof(fc.integer({ min: -1, max: 20 }), fc.string()),
            n: fc.oneof(fc.constantFrom('Error', 'TypeError', 'toString', '__proto__'), fc.integer()),
            s: fc.oneof(fc.string(), fc.constantFrom('(', 'a')),
            f: fc.constantFrom('', 'g', 'gg', 'q'),
            c: tie('node'),
            lm: fc.oneof(fc.integer(), fc.string()),
          },
          { requiredKeys: ['$'] },
        )
        .map((node) => node as unknown),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom('a', '__proto__', '$', 'b'), tie('node'), { maxKeys: 3 }),
    ),
  })).node;

  it('only ever throws CodecError on node-shaped garbage', () => {
    fc.assert(
      fc.property(nodeLike, (value) => {
        const line = JSON.stringify(value);
        for (const decode of [decodeValue, decodeKey]) {
          try {
            decode(JSON.parse(line));
          } catch (error) {
            expect(error).toBeInstanceOf(CodecError);
          }
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('only ever throws CodecError on valid encodings with one part replaced', async () => {
    await fc.assert(
      fc.asyncProperty(withSharing, fc.nat(), nodeLike, async (value, pick, generated) => {
        // decodeValue works in place: never hand it fast-check's own objects.
        const replacement = JSON.parse(JSON.stringify(generated) ?? 'null') as unknown;
        const { line } = await roundTrip(value);
        const parsed = JSON.parse(line) as unknown;
        const slots: [Record<string, unknown> | unknown[], string | number][] = [];
        const collect = (node: unknown): void => {
          if (typeof node !== 'object' || node === null) return;
          for (const [k, v] of Object.entries(node)) {
            slots.push([node as Record<string, unknown>, Array.isArray(node) ? Number(k) : k]);
            collect(v);
          }
        };
        collect(parsed);
        if (slots.length > 0) {
          const [parent, key] = slots[pick % slots.length]!;
          Object.defineProperty(parent, key, {
            value: replacement,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        }
        try {
          decodeValue(parsed);
        } catch (error) {
          expect(error).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- keys ----------------------------------------------------------------------------------------------------

const validKey: fc.Arbitrary<IDBValidKey> = fc.letrec((tie) => ({
  key: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double({ noNaN: true }),
    fc.constantFrom(-0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    anyString,
    fc.date({ noInvalidDate: true }),
    // fake-indexeddb takes every empty buffer for a detached one, so empty binary keys are tested apart.
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => bytes.buffer),
    fc.uint8Array({ minLength: 1, maxLength: 8 }),
    fc.array(tie('key'), { maxLength: 4 }),
  ),
})).key as fc.Arbitrary<IDBValidKey>;

/** What IndexedDB hands back for a key: binary as ArrayBuffer holding just the viewed bytes. */
function asReturned(key: IDBValidKey): IDBValidKey {
  if (Array.isArray(key)) return key.map(asReturned);
  if (ArrayBuffer.isView(key)) return new Uint8Array(key.buffer, key.byteOffset, key.byteLength).slice().buffer;
  if (key instanceof Date) return new Date(key.getTime());
  return key;
}

describe('encodeKey / decodeKey', () => {
  const factory = new IDBFactory();

  it('round-trips every kind of key, equal by indexedDB.cmp and by type', async () => {
    await fc.assert(
      fc.asyncProperty(validKey, async (key) => {
        const decoded = decodeKey(JSON.parse(JSON.stringify(encodeKey(key))));
        expect(factory.cmp(decoded, key)).toBe(0);
        await assertSame(decoded, asReturned(key));
      }),
      { numRuns: 500 },
    );
  });

  it('writes keys in the value format, so decodeValue agrees', () => {
    fc.assert(
      fc.property(validKey, (key) => {
        const line = JSON.stringify(encodeKey(key));
        compareGraphs(decodeValue(JSON.parse(line)), decodeKey(JSON.parse(line)), []);
      }),
    );
  });

  it.each<[string, string]>([
    ['number', '1.5'],
    ['-0', '{"$":"n","v":"-0"}'],
    ['Infinity', '{"$":"n","v":"Infinity"}'],
    ['string', '"k"'],
    ['Date', '{"$":"d","v":0}'],
    ['binary', '{"$":"ab","v":"AQI="}'],
    ['array', '[1,["a",{"$":"d","v":-1}],[]]'],
  ])('keeps the %s encoding stable', (_name, line) => {
    expect(JSON.stringify(encodeKey(decodeKey(JSON.parse(line))))).toBe(line);
  });

  const cyclic: unknown[] = [1];
  cyclic.push(cyclic);
  it.each<[string, unknown, string]>([
    ['NaN', Number.NaN, '$'],
    ['invalid Date', [new Date(Number.NaN)], '$[0]'],
    ['null', null, '$'],
    ['undefined', [1, undefined], '$[1]'],
    ['boolean', true, '$'],
    ['object', { a: 1 }, '$'],
    ['cyclic array', cyclic, '$[1]'],
    ['array with a hole', sparse(2, { 0: 1 }), '$[1]'],
    ['BigInt', 1n, '$'],
  ])('rejects %s', (_name, key, path) => {
    expectCodecError(() => encodeKey(key as IDBValidKey), path);
  });

  it('round-trips empty binary keys and views into larger buffers', async () => {
    const big = new Uint8Array([9, 1, 2, 9]);
    for (const key of [new ArrayBuffer(0), new Uint8Array(0), big.subarray(1, 3), new DataView(big.buffer, 3)]) {
      await assertSame(decodeKey(JSON.parse(JSON.stringify(encodeKey(key)))), asReturned(key));
    }
    expect(JSON.stringify(encodeKey(big.subarray(1, 3)))).toBe('{"$":"ab","v":"AQI="}');
  });

  it('rejects a detached buffer', () => {
    const detached = new ArrayBuffer(4);
    structuredClone(detached, { transfer: [detached] });
    expectCodecError(() => encodeKey([detached]), '$[0]');
  });

  it('accepts the same array twice when it is not a cycle', () => {
    const inner = [1];
    expect(JSON.stringify(encodeKey([inner, inner]))).toBe('[[1],[1]]');
  });

  it.each<[string, string, string]>([
    ['NaN', '{"$":"n","v":"NaN"}', '$.v'],
    ['invalid Date', '{"$":"d","v":null}', '$.v'],
    ['undefined', '[1,{"$":"u"}]', '$[1]'],
    ['null', 'null', '$'],
    ['boolean', '[true]', '$[0]'],
    ['plain object', '{"a":1}', '$'],
    ['resizable buffer', '{"$":"ab","v":"","m":4}', '$.m'],
    ['reference', '[[],{"$":"r","v":0}]', '$[1]'],
    ['bad base64', '{"$":"ab","v":"%%%%"}', '$.v'],
  ])('decodeKey rejects %s', (_name, line, path) => {
    expectCodecError(() => decodeKey(JSON.parse(line)), path);
  });
});

// ---- IndexedDB itself ----------------------------------------------------------------------------------------

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

describe('values really survive IndexedDB (fake-indexeddb)', () => {
  it('snapshot of what IndexedDB returns, restored into IndexedDB, reads back the same', async () => {
    const factory = new IDBFactory();
    const open = factory.open('codec', 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore('source');
      open.result.createObjectStore('restored');
    };
    const db = await request(open);
    const shared = { shared: true };
    const values = [
      ...specialValues.map(([, value]) => value),
      { blob: new Blob(['bytes'], { type: 'text/plain' }), again: [shared, shared] },
    ];
    const write = db.transaction('source', 'readwrite').objectStore('source');
    for (const [i, value] of values.entries()) write.put(value, [i, specialValues[i]?.[0] ?? 'extra']);
    const read = db.transaction('source').objectStore('source');
    const [keys, stored] = await Promise.all([request(read.getAllKeys()), request(read.getAll())]);
    // Snapshot: encode what IndexedDB returned, as NDJSON lines.
    const lines = await Promise.all(
      stored.map(async (value, i) => {
        const blobs = new BlobCollector();
        const line = { k: encodeKey(keys[i]!), v: encodeValue(value, blobs) };
        await blobs.readAll();
        return JSON.stringify(line);
      }),
    );
    // Restore: decode and put into another store.
    const restore = db.transaction('restored', 'readwrite').objectStore('restored');
    for (const line of lines) {
      const { k, v } = JSON.parse(line) as { k: unknown; v: unknown };
      restore.put(decodeValue(v), decodeKey(k));
    }
    const again = db.transaction('restored').objectStore('restored');
    const [restoredKeys, restored] = await Promise.all([request(again.getAllKeys()), request(again.getAll())]);
    await assertSame(restoredKeys, keys);
    expect(restored).toHaveLength(values.length);
    for (const [i, value] of restored.entries()) await assertSame(value, stored[i]);
    db.close();
  });
});
