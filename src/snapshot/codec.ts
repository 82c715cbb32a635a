/**
 * Lossless JSON encoding of everything IndexedDB can store, for NDJSON snapshots.
 *
 * JSON-safe data encodes to itself. Anything JSON would lose becomes a tagged node: an object whose own `$` key names
 * the kind, e.g. `{"$":"d","v":1700000000000}` for a Date. A plain object that really has a `$` key is escaped as
 * `{"$":"o","v":{...}}`. The second and later occurrences of an object become `{"$":"r","v":n}`, where `n` counts
 * objects in the order the encoder first meets them (depth first, keys in `Object.keys` order), so shared references
 * and cycles survive without tagging anything on the first occurrence.
 *
 * @module
 */

/** JSON-safe encoded form of a value. */
export type Encoded = null | boolean | number | string | Encoded[] | { [k: string]: Encoded };

/**
 * Thrown when a value cannot be encoded (functions, symbols, platform objects) or an encoded value is malformed.
 * `path` locates the offending part: the path in the value when encoding (`$.a.b[3]`), in the JSON document when
 * decoding.
 */
export class CodecError extends Error {
  override name = 'CodecError' as const;
  /** Where the problem is, e.g. `$.tags[2]` or `$["odd key"].v`. `$` is the root. */
  readonly path: string;

  /** `message` says what is wrong; the path is appended to it. */
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(`${message} at ${path}`, options);
    this.path = path;
  }
}

/** Pending asynchronous work left by {@link encodeValue}: reading the bytes of Blobs and Files. */
export interface EncodeContext {
  /** Number of Blobs and Files waiting to be read. */
  readonly size: number;
  /** Reads every pending Blob and fills its placeholder node in place. */
  readAll(): Promise<void>;
}

// Lets encodeBlob reach the collector's private lists; assigned by the class's static block.
let addBlob: (collector: BlobCollector, blob: Blob, node: { v: Encoded }) => void;

/**
 * Collects the Blobs and Files met by {@link encodeValue}, whose bytes can only be read asynchronously.
 *
 * Encoding stays synchronous: each Blob becomes a placeholder node whose bytes are still missing. Await
 * {@link BlobCollector.readAll} before stringifying the encoded values; it writes the base64 bytes into the
 * placeholders in place. A placeholder that was never filled fails to decode, so a forgotten `readAll()` cannot pass
 * for an empty Blob. One collector can serve many records and be reused after `readAll()`.
 *
 * @example
 * ```ts
 * const blobs = new BlobCollector();
 * const lines = records.map((record) => encodeValue(record, blobs));
 * if (blobs.size > 0) await blobs.readAll();
 * for (const line of lines) await writable.write(JSON.stringify(line) + '\n');
 * ```
 */
export class BlobCollector implements EncodeContext {
  #blobs: Blob[] = [];
  #nodes: { v: Encoded }[] = [];

  static {
    addBlob = (collector, blob, node) => {
      collector.#blobs.push(blob);
      collector.#nodes.push(node);
    };
  }

  /** Number of Blobs and Files waiting to be read. */
  get size(): number {
    return this.#blobs.length;
  }

  /** Bytes of the Blobs waiting to be read (their base64 takes a third more). */
  get bytes(): number {
    return this.#blobs.reduce((sum, blob) => sum + blob.size, 0);
  }

  /**
   * Reads every pending Blob and writes its bytes, base64, into its placeholder node.
   *
   * @throws {@link CodecError} if a Blob is too large for one string (V8 strings stop near 512 MB, so about 380 MB
   *   of bytes); rejects with the platform's error if a Blob cannot be read.
   */
  async readAll(): Promise<void> {
    const blobs = this.#blobs;
    const nodes = this.#nodes;
    this.#blobs = [];
    this.#nodes = [];
    // The same Blob in several records is read once.
    const texts = new Map<Blob, Promise<string>>();
    for (const blob of blobs) {
      if (!texts.has(blob))
        texts.set(
          blob,
          blob.arrayBuffer().then((buffer) => blobToBase64(buffer, blob.size)),
        );
    }
    const encoded = await Promise.all(blobs.map((blob) => texts.get(blob)!));
    // Both lists were filled in step, so the indices match.
    for (let i = 0; i < encoded.length; i++) nodes[i]!.v = encoded[i]!;
  }
}

function blobToBase64(buffer: ArrayBuffer, size: number): string {
  try {
    return toBase64(new Uint8Array(buffer));
  } catch (error) {
    throw new CodecError(`cannot encode a Blob of ${size} bytes in one string`, '$', { cause: error });
  }
}

/** Facts about a decoded Blob or File, passed to a {@link BlobResolver}. */
export interface BlobInfo {
  /** Whether the original was a File (with a name and lastModified) or a plain Blob. */
  readonly kind: 'blob' | 'file';
  /** MIME type, as `Blob.type`. */
  readonly type: string;
  /** File name; only for files. */
  readonly name?: string;
  /** `File.lastModified`; only for files. */
  readonly lastModified?: number;
}

/**
 * Builds the Blob or File for decoded bytes. The default creates `new Blob([bytes], { type })` or
 * `new File([bytes], name, { type, lastModified })`; supply your own where those globals are missing or differ.
 */
export type BlobResolver = (bytes: Uint8Array<ArrayBuffer>, info: BlobInfo) => Blob;

// Deeper values are refused rather than risking a stack overflow here or in JSON.stringify (about 4000 in V8).
// Encoded JSON nests at most twice as deep as the value.
const MAX_DEPTH = 1000;

/** Thrown internally and turned into a CodecError at the top; each frame on the way up adds its path segment. */
class Fail {
  readonly segments: string[] = [];
  constructor(readonly message: string) {}
}

function fail(message: string): never {
  throw new Fail(message);
}

function prefixed(error: unknown, segment: string): unknown {
  if (error instanceof Fail) error.segments.push(segment);
  return error;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function toCodecError(error: unknown): unknown {
  if (error instanceof Fail) return new CodecError(error.message, `$${error.segments.reverse().join('')}`);
  return error;
}

// Own keys are walked with for-in plus this check rather than Object.keys: V8 drops the check for a for-in key of an
// object whose prototypes have no enumerable properties, and for-in needs no key array. Object.hasOwn is not
// optimized that way.
const hasOwn = Object.prototype.hasOwnProperty;

/** Sets a data property even when the key is `__proto__`, whose assignment would change the prototype instead. */
function setProperty(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

// The names structured clone keeps; any other Error name comes back as 'Error'.
const ERROR_CONSTRUCTORS: Readonly<Record<string, ErrorConstructor>> = {
  __proto__: null,
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
} as unknown as Record<string, ErrorConstructor>;

type ViewConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;

let viewConstructors: Record<string, ViewConstructor> | undefined;

function viewConstructor(name: string): ViewConstructor | undefined {
  if (viewConstructors === undefined) {
    viewConstructors = Object.create(null) as Record<string, ViewConstructor>;
    for (const ctor of [
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
      (globalThis as { Float16Array?: ViewConstructor }).Float16Array,
      DataView,
    ]) {
      if (ctor !== undefined) viewConstructors[ctor.name] = ctor as unknown as ViewConstructor;
    }
  }
  return viewConstructors[name];
}

// Reads [[TypedArrayName]]: right for subclasses such as Node's Buffer, and undefined for DataView.
const typedArrayName = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Int8Array.prototype), Symbol.toStringTag)!
  .get as (this: ArrayBufferView) => string | undefined;

interface ResizableBuffer {
  readonly resizable?: boolean;
  readonly maxByteLength?: number;
}

// ---------------------------------------------------------------------------------------------------------------------
// Encoding

interface EncodeState {
  // Objects met so far; their index is their reference id. A typical record holds a handful, for which a linear scan
  // beats creating and filling a Map; `map` takes over past LINEAR_LIMIT.
  readonly list: object[];
  map: Map<object, number> | undefined;
  readonly blobs: BlobCollector | undefined;
}

const LINEAR_LIMIT = 16;

/** Returns the reference id of an object met before, or registers it and returns -1. */
function seen(state: EncodeState, value: object): number {
  const map = state.map;
  if (map !== undefined) {
    const id = map.get(value);
    if (id !== undefined) return id;
    map.set(value, map.size);
    return -1;
  }
  const list = state.list;
  for (let i = 0; i < list.length; i++) if (list[i] === value) return i;
  if (list.push(value) > LINEAR_LIMIT) state.map = new Map(list.map((object, id) => [object, id]));
  return -1;
}

const UNDEFINED: Encoded = Object.freeze({ $: 'u' });

/**
 * Encodes a value the way IndexedDB would store it (the structured clone algorithm) into JSON-safe data.
 *
 * JSON-safe data comes back as is, sharing structure with `value`: stringify the result before changing `value`.
 * Class instances become plain objects and null-prototype objects plain objects, as structured clone does. Blobs and
 * Files become placeholders registered with `blobs`; await {@link BlobCollector.readAll} before stringifying.
 *
 * @param value - What to encode, typically a record read from IndexedDB.
 * @param blobs - Collects Blobs and Files; required only if `value` contains any.
 * @returns The encoded value, ready for `JSON.stringify` (after `blobs.readAll()` if `blobs.size > 0`).
 * @throws {@link CodecError} for functions, symbols, platform objects such as DOM nodes or CryptoKeys, objects from
 *   other realms, SharedArrayBuffers, and nesting deeper than 1000.
 *
 * @example
 * ```ts
 * JSON.stringify(encodeValue({ at: new Date(0), n: -0 }, new BlobCollector()));
 * // '{"at":{"$":"d","v":0},"n":{"$":"n","v":"-0"}}'
 * ```
 */
export function encodeValue(value: unknown, blobs?: BlobCollector): Encoded {
  // A fresh state per call: measured cheaper in V8 than reusing one and clearing it in a finally block.
  const state: EncodeState = { list: [], map: undefined, blobs };
  try {
    return encode(value, state, 0);
  } catch (error) {
    throw toCodecError(error);
  }
}

function encode(value: unknown, state: EncodeState, depth: number): Encoded {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0) ? value : encodeNumber(value);
    case 'object':
      return value === null ? null : encodeObject(value, state, depth);
    case 'undefined':
      return UNDEFINED;
    case 'bigint':
      return { $: 'bi', v: value.toString() };
    default:
      return fail(`cannot encode a ${typeof value}`);
  }
}

/** True for what encodes to itself without a container: checked inline in loops to save a call per item. */
function isJsonPrimitive(value: unknown): value is string | boolean | number | null {
  const type = typeof value;
  return (
    type === 'string' ||
    type === 'boolean' ||
    value === null ||
    (type === 'number' && Number.isFinite(value) && (value !== 0 || 1 / (value as number) > 0))
  );
}

function encodeNumber(value: number): Encoded {
  return { $: 'n', v: value === 0 ? '-0' : String(value) };
}

function encodeObject(value: object, state: EncodeState, depth: number): Encoded {
  const id = seen(state, value);
  if (id >= 0) return { $: 'r', v: id };
  if (depth >= MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
  if (Array.isArray(value)) return encodeArray(value, state, depth + 1);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    return encodePlain(value as Record<string, unknown>, state, depth + 1, false);
  }
  return encodeSpecial(value, state, depth + 1);
}

/** `copy` forces a copy for class instances, whose prototype could give JSON.stringify a toJSON method. */
function encodePlain(value: Record<string, unknown>, state: EncodeState, depth: number, copy: boolean): Encoded {
  let out: Record<string, Encoded> | undefined = copy ? {} : undefined;
  let escaped = false;
  for (const key in value) {
    if (!hasOwn.call(value, key)) continue;
    const item = value[key];
    let encoded: Encoded;
    if (isJsonPrimitive(item)) {
      encoded = item;
    } else {
      try {
        encoded = encode(item, state, depth);
      } catch (error) {
        throw prefixed(error, keySegment(key));
      }
    }
    if (key === '$') escaped = true;
    if (out === undefined) {
      if (encoded === item) continue;
      // Copy on the first change only: JSON-safe records are returned untouched, without allocating.
      out = copyUntil(value, key);
    }
    setProperty(out, key, encoded);
  }
  const result = out ?? (value as Encoded);
  return escaped ? { $: 'o', v: result } : result;
}

/** Copies the own properties before `stop`, which encoded to themselves. */
function copyUntil(value: Record<string, unknown>, stop: string): Record<string, Encoded> {
  const out: Record<string, Encoded> = {};
  for (const key in value) {
    if (key === stop) break;
    if (hasOwn.call(value, key)) setProperty(out, key, value[key]);
  }
  return out;
}

function encodeArray(value: unknown[], state: EncodeState, depth: number): Encoded {
  const length = value.length;
  const keys = Object.keys(value);
  // Keys list indices in ascending order before other keys, so n keys ending with index n - 1 mean dense and nothing
  // else; anything else needs the keyed form to keep holes and extra properties.
  if (keys.length !== length || (length > 0 && keys[length - 1] !== String(length - 1))) {
    return { $: 'a', l: length, v: encodeKeyed(value as unknown as Record<string, unknown>, keys, state, depth) };
  }
  // Array subclasses are copied: their prototype could give JSON.stringify a toJSON method.
  let out: Encoded[] | undefined = Object.getPrototypeOf(value) === Array.prototype ? undefined : [];
  for (let i = 0; i < length; i++) {
    const item = value[i];
    let encoded: Encoded;
    if (isJsonPrimitive(item)) {
      encoded = item;
    } else {
      try {
        encoded = encode(item, state, depth);
      } catch (error) {
        throw prefixed(error, `[${i}]`);
      }
    }
    if (out === undefined) {
      if (encoded === item) continue;
      out = [];
      for (let j = 0; j < i; j++) out.push(value[j] as Encoded);
    }
    out.push(encoded);
  }
  return out ?? (value as Encoded);
}

function encodeKeyed(
  value: Record<string, unknown>,
  keys: readonly string[],
  state: EncodeState,
  depth: number,
): Encoded {
  const out: Record<string, Encoded> = {};
  for (const key of keys) {
    try {
      setProperty(out, key, encode(value[key], state, depth));
    } catch (error) {
      throw prefixed(error, INDEX.test(key) ? `[${key}]` : keySegment(key));
    }
  }
  return out;
}

function encodeSpecial(value: object, state: EncodeState, depth: number): Encoded {
  if (value instanceof Date) {
    const time = value.getTime();
    return { $: 'd', v: Number.isNaN(time) ? null : time };
  }
  if (ArrayBuffer.isView(value)) {
    const name = typedArrayName.call(value);
    let buffer: Encoded;
    try {
      buffer = encode(value.buffer, state, depth);
    } catch (error) {
      throw prefixed(error, '.buffer');
    }
    return name === undefined
      ? { $: 'dv', b: buffer, o: value.byteOffset, l: value.byteLength }
      : { $: 'ta', t: name, b: buffer, o: value.byteOffset, l: (value as Uint8Array).length };
  }
  if (value instanceof ArrayBuffer) return encodeBuffer(value);
  if (value instanceof Map) return encodeMap(value, state, depth);
  if (value instanceof Set) return encodeSet(value, state, depth);
  if (value instanceof RegExp) return { $: 're', s: value.source, f: value.flags };
  if (typeof Blob !== 'undefined' && value instanceof Blob) return encodeBlob(value, state);
  if (value instanceof Error) return encodeError(value, state, depth);
  // The prototype methods, not the instance's, read the wrapped primitive.
  if (value instanceof Number) return { $: 'box', v: encode(Number.prototype.valueOf.call(value), state, depth) };
  if (value instanceof String) return { $: 'box', v: String.prototype.valueOf.call(value) };
  if (value instanceof Boolean) return { $: 'box', v: Boolean.prototype.valueOf.call(value) };
  if (value instanceof BigInt) return { $: 'box', v: encode(BigInt.prototype.valueOf.call(value), state, depth) };
  const tag = Object.prototype.toString.call(value);
  // Structured clone keeps only own enumerable properties of class instances. Any other brand is a platform object
  // (DOM node, CryptoKey), a non-cloneable built-in (WeakMap, Promise, boxed Symbol) or a built-in from another realm.
  if (tag === '[object Object]') return encodePlain(value as Record<string, unknown>, state, depth, true);
  return fail(`cannot encode ${tag.slice(8, -1)}`);
}

function encodeBuffer(buffer: ArrayBuffer): Encoded {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(buffer);
  } catch {
    return fail('cannot encode a detached ArrayBuffer');
  }
  const { resizable, maxByteLength } = buffer as ResizableBuffer;
  return resizable === true && maxByteLength !== undefined
    ? { $: 'ab', v: toBase64(bytes), m: maxByteLength }
    : { $: 'ab', v: toBase64(bytes) };
}

function encodeMap(map: Map<unknown, unknown>, state: EncodeState, depth: number): Encoded {
  const entries: Encoded[] = [];
  let i = 0;
  for (const [key, item] of map) {
    try {
      entries.push(encode(key, state, depth));
      entries.push(encode(item, state, depth));
    } catch (error) {
      throw prefixed(error, `{entry ${i}}`);
    }
    i++;
  }
  return { $: 'map', v: entries };
}

function encodeSet(set: Set<unknown>, state: EncodeState, depth: number): Encoded {
  const items: Encoded[] = [];
  for (const item of set) {
    try {
      items.push(encode(item, state, depth));
    } catch (error) {
      throw prefixed(error, `{item ${items.length}}`);
    }
  }
  return { $: 'set', v: items };
}

function encodeBlob(blob: Blob, state: EncodeState): Encoded {
  if (state.blobs === undefined) fail('cannot encode a Blob without a BlobCollector');
  const node: { [k: string]: Encoded; v: Encoded } =
    typeof File !== 'undefined' && blob instanceof File
      ? { $: 'file', t: blob.type, n: blob.name, lm: blob.lastModified, v: null }
      : { $: 'blob', t: blob.type, v: null };
  addBlob(state.blobs, blob, node);
  return node;
}

function encodeError(error: Error, state: EncodeState, depth: number): Encoded {
  const name = error.name;
  const node: Record<string, Encoded> = {
    $: 'err',
    n: typeof name === 'string' && name in ERROR_CONSTRUCTORS ? name : 'Error',
  };
  const message = Object.getOwnPropertyDescriptor(error, 'message');
  if (message !== undefined && 'value' in message) node.m = String(message.value);
  const stack = error.stack;
  if (typeof stack === 'string') node.s = stack;
  if (Object.hasOwn(error, 'cause')) {
    try {
      node.c = encode(error.cause, state, depth);
    } catch (failure) {
      throw prefixed(failure, '.cause');
    }
  }
  return node;
}

// ---------------------------------------------------------------------------------------------------------------------
// Decoding

interface DecodeState {
  // Every object decoded so far, in the encoder's order, for references. RESERVED marks a view whose buffer is still
  // being decoded.
  readonly objects: unknown[];
  readonly blobs: BlobResolver | undefined;
}

const RESERVED: unknown = Symbol('reserved');

type Node = Record<string, unknown>;

/**
 * Decodes what {@link encodeValue} produced, after `JSON.parse`.
 *
 * `encoded` must be a tree such as `JSON.parse` returns; it is reused and modified in place, so decode it once.
 * Decoding never changes a prototype: `__proto__`, `constructor` and `prototype` keys come back as own data properties.
 *
 * @param encoded - A parsed snapshot line.
 * @param blobs - Builds Blobs and Files from their bytes; defaults to the global `Blob` and `File` constructors.
 * @returns The value as IndexedDB would hand it out.
 * @throws {@link CodecError} for anything that is not a valid encoding, with the JSON path of the offending part.
 *
 * @example
 * ```ts
 * decodeValue(JSON.parse('{"at":{"$":"d","v":0}}')); // { at: new Date(0) }
 * ```
 */
export function decodeValue(encoded: unknown, blobs?: BlobResolver): unknown {
  const state: DecodeState = { objects: [], blobs };
  try {
    return decode(encoded, state, 0);
  } catch (error) {
    throw toDecodeError(error);
  }
}

function toDecodeError(error: unknown): CodecError {
  const converted = toCodecError(error);
  if (converted instanceof CodecError) return converted;
  // A stack overflow or a failing BlobResolver: callers of a decoder for untrusted input expect one error type.
  return new CodecError(`cannot decode: ${String(error)}`, '$', { cause: error });
}

function decode(value: unknown, state: DecodeState, depth: number): unknown {
  if (typeof value !== 'object') {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    return fail(`unexpected ${typeof value}`);
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    state.objects.push(value);
    decodeArrayItems(value, state, depth + 1);
    return value;
  }
  const tag = (value as Node).$;
  if (tag !== undefined && hasOwn.call(value, '$')) return decodeTagged(value as Node, tag, state, depth + 1);
  if (depth >= MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
  state.objects.push(value);
  decodeProperties(value as Node, state, depth + 1);
  return value;
}

function decodeArrayItems(array: unknown[], state: DecodeState, depth: number): void {
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    if (typeof item === 'object' && item !== null) {
      let decoded: unknown;
      try {
        decoded = decode(item, state, depth);
      } catch (error) {
        throw prefixed(error, `[${i}]`);
      }
      if (decoded !== item) array[i] = decoded;
    } else if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean' && item !== null) {
      throw prefixed(new Fail(`unexpected ${typeof item}`), `[${i}]`);
    }
  }
}

function decodeProperties(object: Node, state: DecodeState, depth: number): void {
  for (const key in object) {
    if (!hasOwn.call(object, key)) continue;
    const item = object[key];
    if (typeof item === 'object' && item !== null) {
      let decoded: unknown;
      try {
        decoded = decode(item, state, depth);
      } catch (error) {
        throw prefixed(error, keySegment(key));
      }
      if (decoded !== item) setProperty(object, key, decoded);
    } else if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean' && item !== null) {
      throw prefixed(new Fail(`unexpected ${typeof item}`), keySegment(key));
    }
  }
}

/** Decodes `node[key]`, adding the key to the path of any failure. */
function decodeField(node: Node, key: string, state: DecodeState, depth: number): unknown {
  try {
    return decode(node[key], state, depth);
  } catch (error) {
    throw prefixed(error, `.${key}`);
  }
}

function field(node: Node, key: string, type: 'string' | 'number' | 'object'): unknown {
  const value = node[key];
  if (typeof value !== type || value === null || !hasOwn.call(node, key)) {
    throw prefixed(new Fail(`expected ${type === 'object' ? 'an object' : `a ${type}`}`), `.${key}`);
  }
  return value;
}

function stringField(node: Node, key: string): string {
  return field(node, key, 'string') as string;
}

function integerField(node: Node, key: string, min: number, max: number): number {
  const value = field(node, key, 'number') as number;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw prefixed(new Fail(`expected an integer from ${min} to ${max}`), `.${key}`);
  }
  return value;
}

function arrayField(node: Node, key: string): unknown[] {
  const value = field(node, key, 'object');
  if (!Array.isArray(value)) throw prefixed(new Fail('expected an array'), `.${key}`);
  return value;
}

function plainField(node: Node, key: string): Node {
  const value = field(node, key, 'object');
  if (Array.isArray(value)) throw prefixed(new Fail('expected an object'), `.${key}`);
  return value as Node;
}

const MAX_ARRAY_LENGTH = 2 ** 32 - 1;
const MAX_TIME = 8.64e15;

/** `depth` is that of the node's children. */
function decodeTagged(node: Node, tag: unknown, state: DecodeState, depth: number): unknown {
  // The encoder checks depth for objects only, so primitives and references may sit one level deeper.
  if (depth > MAX_DEPTH && tag !== 'u' && tag !== 'n' && tag !== 'bi' && tag !== 'r') {
    fail(`nesting deeper than ${MAX_DEPTH}`);
  }
  switch (tag) {
    case 'u':
      return undefined;
    case 'n':
      return decodeNumber(node, '.v');
    case 'bi':
      return decodeBigInt(node);
    case 'r':
      return decodeReference(node, state);
    case 'o':
      return decodeObject(node, state, depth);
    case 'a':
      return decodeSparse(node, state, depth);
    case 'd':
      return remember(state, new Date(node.v === null ? Number.NaN : integerField(node, 'v', -MAX_TIME, MAX_TIME)));
    case 're':
      return remember(state, decodeRegExp(node));
    case 'box':
      return remember(state, decodeBox(node));
    case 'ab':
      return remember(state, decodeBuffer(node));
    case 'ta':
    case 'dv':
      return decodeView(node, tag, state, depth);
    case 'map':
      return decodeMap(node, state, depth);
    case 'set': {
      const items = arrayField(node, 'v');
      const set = remember(state, new Set<unknown>());
      for (let i = 0; i < items.length; i++) set.add(decodeItem(items, i, state, depth));
      return set;
    }
    case 'err':
      return decodeError(node, state, depth);
    case 'blob':
    case 'file':
      return decodeBlob(node, tag, state);
    default:
      throw prefixed(new Fail(`unknown tag ${JSON.stringify(tag) ?? typeof tag}`), '.$');
  }
}

/** Registers a decoded object under the next reference id (before its children, which may refer to it). */
function remember<T extends object>(state: DecodeState, object: T): T {
  state.objects.push(object);
  return object;
}

function decodeReference(node: Node, state: DecodeState): unknown {
  if (state.objects.length === 0) throw prefixed(new Fail('reference before any object'), '.v');
  const target = state.objects[integerField(node, 'v', 0, state.objects.length - 1)];
  if (target === RESERVED) throw prefixed(new Fail('reference to an unfinished view'), '.v');
  return target;
}

function decodeObject(node: Node, state: DecodeState, depth: number): object {
  const object = remember(state, plainField(node, 'v'));
  try {
    decodeProperties(object, state, depth);
  } catch (error) {
    throw prefixed(error, '.v');
  }
  return object;
}

function decodeRegExp(node: Node): RegExp {
  const source = stringField(node, 's');
  const flags = stringField(node, 'f');
  try {
    return new RegExp(source, flags);
  } catch {
    return fail('invalid RegExp');
  }
}

function decodeMap(node: Node, state: DecodeState, depth: number): Map<unknown, unknown> {
  const entries = arrayField(node, 'v');
  if (entries.length % 2 !== 0) throw prefixed(new Fail('expected key, value pairs'), '.v');
  const map = remember(state, new Map<unknown, unknown>());
  for (let i = 0; i < entries.length; i += 2) {
    map.set(decodeItem(entries, i, state, depth), decodeItem(entries, i + 1, state, depth));
  }
  return map;
}

function decodeItem(items: unknown[], index: number, state: DecodeState, depth: number): unknown {
  try {
    return decode(items[index], state, depth);
  } catch (error) {
    throw prefixed(prefixed(error, `[${index}]`), '.v');
  }
}

function decodeNumber(node: Node, segment: string): number {
  switch (node.v) {
    case 'NaN':
      return Number.NaN;
    case 'Infinity':
      return Number.POSITIVE_INFINITY;
    case '-Infinity':
      return Number.NEGATIVE_INFINITY;
    case '-0':
      return -0;
    default:
      throw prefixed(new Fail('expected "NaN", "Infinity", "-Infinity" or "-0"'), segment);
  }
}

const BIGINT = /^-?(?:0|[1-9]\d*)$/;

function decodeBigInt(node: Node): bigint {
  const digits = stringField(node, 'v');
  if (!BIGINT.test(digits)) throw prefixed(new Fail('expected decimal digits'), '.v');
  return BigInt(digits);
}

function decodeBox(node: Node): object {
  const value = node.v;
  switch (typeof value) {
    case 'number':
    case 'string':
    case 'boolean':
      return Object(value) as object;
    case 'object':
      if (value !== null && !Array.isArray(value)) {
        const inner = value as Node;
        try {
          if (inner.$ === 'n') return Object(decodeNumber(inner, '.v')) as object;
          if (inner.$ === 'bi') return Object(decodeBigInt(inner)) as object;
        } catch (error) {
          throw prefixed(error, '.v');
        }
      }
  }
  throw prefixed(new Fail('expected a number, string, boolean or bigint'), '.v');
}

function decodeBuffer(node: Node): ArrayBuffer {
  const bytes = fromBase64(stringField(node, 'v'));
  if (node.m === undefined) return bytes.buffer;
  const max = integerField(node, 'm', bytes.length, MAX_ARRAY_LENGTH);
  let buffer: ArrayBuffer;
  try {
    buffer = new (ArrayBuffer as new (length: number, options: { maxByteLength: number }) => ArrayBuffer)(
      bytes.length,
      { maxByteLength: max },
    );
  } catch {
    return fail('cannot create a resizable ArrayBuffer');
  }
  new Uint8Array(buffer).set(bytes);
  return buffer;
}

function decodeView(node: Node, tag: 'ta' | 'dv', state: DecodeState, depth: number): ArrayBufferView {
  const ctor = viewConstructor(tag === 'dv' ? 'DataView' : stringField(node, 't'));
  if (ctor === undefined || (tag === 'ta' && ctor === DataView)) {
    throw prefixed(new Fail('unknown or unsupported typed array'), '.t');
  }
  const slot = state.objects.length;
  state.objects.push(RESERVED);
  const buffer = decodeField(node, 'b', state, depth);
  if (!(buffer instanceof ArrayBuffer)) throw prefixed(new Fail('expected an ArrayBuffer'), '.b');
  const offset = integerField(node, 'o', 0, MAX_ARRAY_LENGTH);
  const length = integerField(node, 'l', 0, MAX_ARRAY_LENGTH);
  let view: ArrayBufferView;
  try {
    view = new ctor(buffer, offset, length);
  } catch {
    return fail('view out of bounds or misaligned');
  }
  state.objects[slot] = view;
  return view;
}

const INDEX = /^(?:0|[1-9]\d*)$/;

function decodeSparse(node: Node, state: DecodeState, depth: number): unknown[] {
  const length = integerField(node, 'l', 0, MAX_ARRAY_LENGTH);
  const properties = plainField(node, 'v');
  const array: unknown[] = new Array<unknown>(length);
  state.objects.push(array);
  for (const key of Object.keys(properties)) {
    const segment = `.v${keySegment(key)}`;
    // An index at or past the length, or 'length' itself, would change the length rather than add an element.
    // Canonical integers from 2^32 - 1 up are not indices but ordinary properties.
    const index = INDEX.test(key) ? Number(key) : MAX_ARRAY_LENGTH;
    if (key === 'length' || (index < MAX_ARRAY_LENGTH && index >= length)) {
      throw prefixed(new Fail('property outside the array'), segment);
    }
    let item: unknown;
    try {
      item = decode(properties[key], state, depth);
    } catch (error) {
      throw prefixed(error, segment);
    }
    Object.defineProperty(array, key, { value: item, writable: true, enumerable: true, configurable: true });
  }
  return array;
}

function decodeError(node: Node, state: DecodeState, depth: number): Error {
  const ctor = ERROR_CONSTRUCTORS[stringField(node, 'n')] ?? Error;
  const error = new ctor();
  const hidden = { writable: true, enumerable: false, configurable: true };
  if (node.m !== undefined) Object.defineProperty(error, 'message', { ...hidden, value: stringField(node, 'm') });
  if (node.s === undefined) {
    // The stack of this decoder's frames would be made up: the original had none.
    delete error.stack;
  } else {
    Object.defineProperty(error, 'stack', { ...hidden, value: stringField(node, 's') });
  }
  state.objects.push(error);
  if (Object.hasOwn(node, 'c'))
    Object.defineProperty(error, 'cause', { ...hidden, value: decodeField(node, 'c', state, depth) });
  return error;
}

function decodeBlob(node: Node, tag: 'blob' | 'file', state: DecodeState): Blob {
  if (node.v === null) throw prefixed(new Fail('Blob bytes missing: was BlobCollector.readAll() awaited?'), '.v');
  const bytes = fromBase64(stringField(node, 'v'));
  const type = stringField(node, 't');
  let info: BlobInfo;
  if (tag === 'file') {
    const lastModified = field(node, 'lm', 'number') as number;
    if (!Number.isFinite(lastModified)) throw prefixed(new Fail('expected a finite number'), '.lm');
    info = { kind: 'file', type, name: stringField(node, 'n'), lastModified };
  } else {
    info = { kind: 'blob', type };
  }
  const blob = (state.blobs ?? defaultBlobResolver)(bytes, info);
  state.objects.push(blob);
  return blob;
}

function defaultBlobResolver(bytes: Uint8Array<ArrayBuffer>, info: BlobInfo): Blob {
  return info.kind === 'file'
    ? new File([bytes], info.name ?? '', { type: info.type, lastModified: info.lastModified ?? 0 })
    : new Blob([bytes], { type: info.type });
}

// ---------------------------------------------------------------------------------------------------------------------
// Keys

/**
 * Encodes an IndexedDB key: a number other than NaN, a string, a valid Date, binary (ArrayBuffer or a view, whose
 * viewed bytes are kept), or an array of keys. The result is also a valid {@link encodeValue} encoding.
 *
 * @throws {@link CodecError} if `key` is not a valid key.
 *
 * @example
 * ```ts
 * JSON.stringify(encodeKey([1, 'a', new Date(0)])); // '[1,"a",{"$":"d","v":0}]'
 * ```
 */
export function encodeKey(key: IDBValidKey): Encoded {
  try {
    return encodeKeyPart(key, [], 0);
  } catch (error) {
    throw toCodecError(error);
  }
}

function encodeKeyPart(key: unknown, ancestors: unknown[], depth: number): Encoded {
  if (typeof key === 'string') return key;
  if (typeof key === 'number') {
    if (Number.isNaN(key)) fail('NaN is not a valid key');
    return Number.isFinite(key) && (key !== 0 || 1 / key > 0) ? key : encodeNumber(key);
  }
  if (key instanceof Date) {
    const time = key.getTime();
    if (Number.isNaN(time)) fail('an invalid Date is not a valid key');
    return { $: 'd', v: time };
  }
  if (key instanceof ArrayBuffer || (ArrayBuffer.isView(key) && key.buffer instanceof ArrayBuffer)) {
    let bytes: Uint8Array;
    try {
      bytes =
        key instanceof ArrayBuffer ? new Uint8Array(key) : new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
    } catch {
      return fail('a detached buffer is not a valid key');
    }
    return { $: 'ab', v: toBase64(bytes) };
  }
  if (Array.isArray(key)) {
    if (ancestors.includes(key)) fail('a cyclic array is not a valid key');
    if (depth >= MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    ancestors.push(key);
    const out: Encoded[] = [];
    for (let i = 0; i < key.length; i++) {
      try {
        if (!Object.hasOwn(key, i)) fail('an array with holes is not a valid key');
        out.push(encodeKeyPart(key[i], ancestors, depth + 1));
      } catch (error) {
        throw prefixed(error, `[${i}]`);
      }
    }
    ancestors.pop();
    return out;
  }
  return fail(`${key === null ? 'null' : typeof key} is not a valid key`);
}

/**
 * Decodes what {@link encodeKey} produced, after `JSON.parse`. Binary keys come back as ArrayBuffer, as IndexedDB
 * returns them.
 *
 * @throws {@link CodecError} unless `encoded` is the encoding of a valid key.
 */
export function decodeKey(encoded: unknown): IDBValidKey {
  try {
    return decodeKeyPart(encoded, 0);
  } catch (error) {
    throw toDecodeError(error);
  }
}

function decodeKeyPart(encoded: unknown, depth: number): IDBValidKey {
  if (typeof encoded === 'string') return encoded;
  if (typeof encoded === 'number') {
    if (Number.isNaN(encoded)) fail('NaN is not a valid key');
    return encoded;
  }
  if (typeof encoded !== 'object' || encoded === null) return fail('not a key encoding');
  if (depth >= MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
  if (Array.isArray(encoded)) {
    const out: IDBValidKey[] = [];
    for (let i = 0; i < encoded.length; i++) {
      try {
        out.push(decodeKeyPart(encoded[i], depth + 1));
      } catch (error) {
        throw prefixed(error, `[${i}]`);
      }
    }
    return out;
  }
  const node = encoded as Node;
  switch (Object.hasOwn(node, '$') ? node.$ : undefined) {
    case 'n': {
      const value = decodeNumber(node, '.v');
      if (Number.isNaN(value)) throw prefixed(new Fail('NaN is not a valid key'), '.v');
      return value;
    }
    case 'd':
      return new Date(integerField(node, 'v', -MAX_TIME, MAX_TIME));
    case 'ab':
      if (node.m !== undefined) throw prefixed(new Fail('a key is never resizable'), '.m');
      return fromBase64(stringField(node, 'v')).buffer;
    default:
      return fail('not a key encoding');
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Base64

// Native in Firefox 133, Safari 18.2 and Chrome 140; the fallbacks serve older engines and Node 20.
interface Base64Native {
  toBase64?: (this: Uint8Array) => string;
}
interface Base64NativeConstructor {
  fromBase64?: (text: string) => Uint8Array<ArrayBuffer>;
}

// A character class scan, not a repeated group: a group would backtrack through megabytes of base64.
const NOT_BASE64 = /[^A-Za-z\d+/]/;
const CHUNK = 0x8000;

function toBase64(bytes: Uint8Array): string {
  const native = (Uint8Array.prototype as Base64Native).toBase64;
  if (native !== undefined) return native.call(bytes);
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  // Stricter than atob: no whitespace, padding required.
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (text.length % 4 !== 0 || NOT_BASE64.test(padding === 0 ? text : text.slice(0, -padding))) {
    throw prefixed(new Fail('invalid base64'), '.v');
  }
  const native = (Uint8Array as Base64NativeConstructor).fromBase64;
  if (native !== undefined) return native(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
