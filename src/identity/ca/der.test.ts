import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdentityError } from '../errors.js';
import { DER_ERROR, readingDer, readTlv } from './der.js';

const content = (n: number): Buffer => Buffer.alloc(n, 0x61);

test('readTlv reads strict DER only', () => {
  const cases: { name: string; input: Buffer; want: string | { contentStart: number; end: number } }[] = [
    { name: 'empty SEQUENCE', input: Buffer.of(0x30, 0x00), want: { contentStart: 2, end: 2 } },
    { name: 'short form, 127 bytes', input: Buffer.concat([Buffer.of(0x04, 0x7f), content(127)]), want: { contentStart: 2, end: 129 } },
    { name: 'long form, 128 bytes', input: Buffer.concat([Buffer.of(0x04, 0x81, 0x80), content(128)]), want: { contentStart: 3, end: 131 } },
    { name: 'long form, 256 bytes', input: Buffer.concat([Buffer.of(0x04, 0x82, 0x01, 0x00), content(256)]), want: { contentStart: 4, end: 260 } },
    { name: 'long form for a short length', input: Buffer.concat([Buffer.of(0x04, 0x81, 0x7f), content(127)]), want: 'non-minimal length' },
    { name: 'leading zero length octet', input: Buffer.concat([Buffer.of(0x04, 0x82, 0x00, 0x80), content(128)]), want: 'non-minimal length' },
    { name: 'indefinite length', input: Buffer.of(0x30, 0x80, 0x00, 0x00), want: 'unsupported length form' },
    { name: 'five length octets', input: Buffer.of(0x04, 0x85, 0, 0, 0, 0, 1, 0), want: 'unsupported length form' },
    { name: 'multi-byte tag', input: Buffer.of(0x1f, 0x01, 0x00), want: 'multi-byte tag' },
    { name: 'one byte', input: Buffer.of(0x04), want: 'truncated header' },
    { name: 'length octets cut off', input: Buffer.of(0x04, 0x82, 0x01), want: 'truncated length' },
    { name: 'content cut off', input: Buffer.of(0x04, 0x05, 0x00), want: 'element runs past its container' },
  ];
  for (const c of cases) {
    if (typeof c.want === 'string') {
      assert.throws(() => readTlv(c.input, 0), (e: unknown) => e instanceof IdentityError && e.code === DER_ERROR && e.message === `malformed DER: ${c.want}`, c.name);
    } else {
      assert.deepEqual(readTlv(c.input, 0), { tag: c.input[0], start: 0, ...c.want }, c.name);
    }
  }
});

test('readingDer hands the reader errors to the caller and lets others through', () => {
  const details: string[] = [];
  const malformed = (detail: string): never => {
    details.push(detail);
    throw new Error('caller error');
  };
  assert.throws(() => readingDer(() => readTlv(Buffer.of(0x04), 0), malformed), /caller error/);
  assert.deepEqual(details, ['truncated header']);
  assert.throws(() => readingDer(() => { throw new RangeError('other'); }, malformed), RangeError);
  assert.equal(readingDer(() => 7, malformed), 7);
});
