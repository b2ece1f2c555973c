import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMPTY_LIST, EMPTY_PROGRAM, HEADER_END, HEADER_FLAGS, PROGRAM_HEADER, ProgramArena } from './arena.js';

function region(arena: ProgramArena, offset: number): number[] {
  return Array.from(arena.words.subarray(offset, offset + arena.length(offset)));
}

test('every arena starts with the empty program and the empty list at fixed offsets', () => {
  const arena = new ProgramArena();
  assert.equal(arena.length(EMPTY_PROGRAM), PROGRAM_HEADER);
  for (let layer = 0; layer <= HEADER_END; layer++) assert.equal(arena.words[EMPTY_PROGRAM + layer], PROGRAM_HEADER, 'every layer is empty');
  assert.equal(arena.words[EMPTY_PROGRAM + HEADER_FLAGS], 0, 'not isolated');
  assert.equal(arena.length(EMPTY_LIST), 0);
  assert.equal(arena.live, 0);
});

test('stored regions read back, also after the buffer grows', () => {
  const arena = new ProgramArena();
  const small = arena.store([7, -1, 65535]);
  const large = Array.from({ length: 10_000 }, (_, index) => index * 3 - 5);
  const big = arena.store(large);
  assert.deepEqual(region(arena, small), [7, -1, 65535]);
  assert.deepEqual(region(arena, big), large);
  assert.equal(arena.live, 3 + 1 + large.length + 1, 'each region costs its words and a length word');
});

test('releasing the shared regions is a no-op; releasing a stored one leaves garbage', () => {
  const arena = new ProgramArena(4);
  arena.release(EMPTY_PROGRAM);
  arena.release(EMPTY_LIST);
  assert.equal(arena.live, 0);
  const kept = arena.store([1, 2]);
  const dropped = arena.store([3, 4, 5, 6, 7]);
  assert.equal(arena.wasteful, false);
  arena.release(dropped);
  assert.equal(arena.live, 3);
  assert.equal(arena.wasteful, true, 'garbage (6 words) is above the floor (4) and above the live words');
  assert.deepEqual(region(arena, kept), [1, 2]);
});

test('below the floor garbage is left alone', () => {
  const arena = new ProgramArena();
  arena.release(arena.store([1, 2, 3]));
  assert.equal(arena.wasteful, false);
});

test('compaction keeps every live region once, frees the garbage and leaves the shared regions in place', () => {
  const arena = new ProgramArena(0);
  const a = arena.store([1, 2, 3]);
  const garbage = arena.store(Array.from({ length: 100 }, () => 9));
  const b = arena.store([4]);
  const empty = arena.store([]);
  arena.release(garbage);
  const liveBefore = arena.live;
  const moved = new Map<string, number>();
  arena.compact((move) => {
    moved.set('a', move(a));
    moved.set('a again', move(a));
    moved.set('b', move(b));
    moved.set('empty', move(empty));
    moved.set('program', move(EMPTY_PROGRAM));
    moved.set('list', move(EMPTY_LIST));
  });
  assert.equal(arena.compactions, 1);
  assert.equal(moved.get('a again'), moved.get('a'), 'a region moved twice is copied once');
  assert.deepEqual(region(arena, moved.get('a')!), [1, 2, 3]);
  assert.deepEqual(region(arena, moved.get('b')!), [4]);
  assert.deepEqual(region(arena, moved.get('empty')!), []);
  assert.equal(moved.get('program'), EMPTY_PROGRAM);
  assert.equal(moved.get('list'), EMPTY_LIST);
  assert.equal(arena.live, liveBefore, 'the live words are the same, the garbage is gone');
  assert.equal(arena.wasteful, false);
  assert.equal(arena.length(EMPTY_PROGRAM), PROGRAM_HEADER, 'the prefix is rebuilt');
});
