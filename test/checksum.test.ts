import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Checksum } from '../src/snapshot/checksum.js';

function crc(...chunks: (string | Uint8Array)[]): string {
  const checksum = new Checksum();
  for (const chunk of chunks) checksum.update(chunk);
  return checksum.digest();
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

// zlib.crc32 arrived in Node 20.15 / 22.2: an independent implementation to compare against where present.
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array | string) => number }).crc32;

/** Any UTF-16 code unit, lone surrogates included: strings JSON.stringify escapes but a writer may still pass. */
const anyText = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  maxLength: 64,
});
const someText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), anyText);

/** `parts` cut at the given positions (taken modulo the length). */
function cut<T extends string | Uint8Array>(whole: T, positions: number[]): T[] {
  const points = [...new Set(positions.map((p) => p % (whole.length + 1)))].sort((a, b) => a - b);
  const parts: T[] = [];
  let start = 0;
  for (const point of [...points, whole.length]) {
    parts.push(whole.slice(start, point) as T);
    start = point;
  }
  return parts;
}

describe('Checksum: known answers (CRC-32/ISO-HDLC, as zlib, PNG, gzip)', () => {
  it.each<[string, string | Uint8Array, string]>([
    ['empty', '', '00000000'],
    ['check value', '123456789', 'cbf43926'],
    ['one letter', 'a', 'e8b7be43'],
    ['pangram', 'The quick brown fox jumps over the lazy dog', '414fa339'],
    ['one zero byte', new Uint8Array([0]), 'd202ef8d'],
    ['four 0xff bytes', new Uint8Array([255, 255, 255, 255]), 'ffffffff'],
    ['32 zero bytes', new Uint8Array(32), '190a55ad'],
    ['non-ASCII, as UTF-8', 'é', '0e048d3e'],
    ['leading zero digits kept', 'x31', '001685f0'],
  ])('%s', (_name, input, digest) => {
    expect(crc(input)).toBe(digest);
  });

  it('agrees with zlib.crc32 on random bytes', () => {
    if (zlibCrc32 === undefined) return;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(crc(bytes)).toBe(zlibCrc32(bytes).toString(16).padStart(8, '0'));
      }),
    );
  });

  it('pads the digest to 8 lowercase hex digits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (bytes) => {
        expect(crc(bytes)).toMatch(/^[0-9a-f]{8}$/);
      }),
    );
  });
});

describe('Checksum: strings are hashed as their UTF-8 bytes', () => {
  it('equals the digest of TextEncoder bytes, lone surrogates included', () => {
    fc.assert(
      fc.property(someText, (text) => {
        expect(crc(text)).toBe(crc(utf8(text)));
      }),
      { numRuns: 500 },
    );
  });

  it('hashes a lone surrogate as U+FFFD, even at the very end', () => {
    expect(crc('a\ud800')).toBe(crc(utf8('a\ufffd')));
    expect(crc('\udc00b')).toBe(crc(utf8('\ufffdb')));
    expect(crc('\ud800', new Uint8Array([1]))).toBe(crc(new Uint8Array([0xef, 0xbf, 0xbd, 1])));
  });

  it('handles strings longer than its 64 KiB scratch buffer, with multi-byte characters at the seams', () => {
    const text = `${'aé€😀'.repeat(30_000)}\ud800`;
    expect(crc(text)).toBe(crc(utf8(text)));
    if (zlibCrc32 !== undefined) expect(crc(text)).toBe(zlibCrc32(utf8(text)).toString(16).padStart(8, '0'));
  });
});

describe('Checksum: incremental equals one-shot', () => {
  it('for bytes cut anywhere', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, positions) => {
        expect(crc(...cut(bytes, positions))).toBe(crc(bytes));
      }),
    );
  });

  it('for strings cut anywhere, even inside a surrogate pair', () => {
    fc.assert(
      fc.property(someText, fc.array(fc.nat(), { maxLength: 8 }), (text, positions) => {
        expect(crc(...cut(text, positions))).toBe(crc(text));
      }),
      { numRuns: 500 },
    );
    expect(crc('\ud83d', '\ude00')).toBe(crc('\ud83d\ude00'));
    expect(crc('\ud83d', '', '\ude00')).toBe(crc('\ud83d\ude00'));
  });

  it('for strings and bytes mixed', () => {
    // Seen failing with the old reference (each chunk encoded alone): ['\ud800', '\udc00'] is one pair.
    expect(crc('\ud800', '\udc00')).toBe(crc(utf8('\ud800\udc00')));
    fc.assert(
      fc.property(fc.array(fc.oneof(someText, fc.uint8Array({ maxLength: 20 })), { maxLength: 6 }), (chunks) => {
        // Adjacent strings are one text (a surrogate pair may be split between them); bytes end the text before them.
        const parts: (string | Uint8Array)[] = [];
        for (const chunk of chunks) {
          const last = parts.at(-1);
          if (typeof chunk === 'string' && typeof last === 'string') parts[parts.length - 1] = last + chunk;
          else parts.push(chunk);
        }
        const bytes = parts.flatMap((part) => [...(typeof part === 'string' ? utf8(part) : part)]);
        expect(crc(...chunks)).toBe(crc(new Uint8Array(bytes)));
      }),
    );
  });

  it('lets digest() be read midway without changing the result', () => {
    const checksum = new Checksum();
    checksum.update('1234');
    expect(checksum.digest()).toBe(crc('1234'));
    checksum.update('\ud83d');
    expect(checksum.digest()).toBe(crc('1234\ufffd'));
    checksum.update('\ude00');
    checksum.update(utf8('56789'));
    expect(checksum.digest()).toBe(crc('1234\ud83d\ude0056789'));
    expect(checksum.digest()).toBe(checksum.digest());
  });

  it('keeps separate instances independent', () => {
    const a = new Checksum();
    const b = new Checksum();
    a.update('123456789');
    b.update('\ud800');
    expect(a.digest()).toBe('cbf43926');
    expect(b.digest()).toBe(crc(utf8('\ufffd')));
  });
});

describe('Checksum: detects damage', () => {
  const lines = fc
    .array(fc.record({ id: fc.nat(), title: fc.string(), done: fc.boolean() }), { minLength: 1, maxLength: 20 })
    .map((records) => records.map((record) => `${JSON.stringify(record)}\n`).join(''));

  it('changes when any single bit flips', () => {
    fc.assert(
      fc.property(lines, fc.nat(), fc.integer({ min: 0, max: 7 }), (text, at, bit) => {
        const bytes = utf8(text);
        const damaged = bytes.slice();
        damaged[at % bytes.length]! ^= 1 << bit;
        expect(crc(damaged)).not.toBe(crc(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('changes when the end is cut off or bytes are appended', () => {
    fc.assert(
      fc.property(
        lines,
        fc.integer({ min: 1, max: 100 }),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        (text, drop, extra) => {
          const bytes = utf8(text);
          const digest = crc(bytes);
          expect(crc(bytes.subarray(0, Math.max(0, bytes.length - drop)))).not.toBe(digest);
          expect(crc(bytes, extra)).not.toBe(digest);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('changes when a line is dropped, duplicated or two lines swap', () => {
    const text = ['{"a":1}\n', '{"b":2}\n', '{"c":3}\n'];
    const digest = crc(...text);
    expect(crc(text[0]!, text[2]!)).not.toBe(digest);
    expect(crc(text[0]!, text[1]!, text[1]!, text[2]!)).not.toBe(digest);
    expect(crc(text[1]!, text[0]!, text[2]!)).not.toBe(digest);
    // Trailing zero bytes are not invisible, as they would be to a CRC without the initial inversion.
    expect(crc(new Uint8Array([1, 0]))).not.toBe(crc(new Uint8Array([1])));
  });
});
