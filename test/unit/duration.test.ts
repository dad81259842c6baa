// Durations as people write them in config: 90s, 30m, 1h30m, or a number of seconds.
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['1h 30m', 5_400_000],
    ['2d', 172_800_000],
    ['250ms', 250],
    ['1.5h', 5_400_000],
    ['45', 45_000],
    [45, 45_000],
    [0, 0],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '',
    'soon',
    '10x',
    'm',
    '1h30',
    '30m1',
    '-5',
    '-5m',
    'h1',
    '1hh',
    -1,
    Number.NaN,
    Infinity,
    null,
    true,
    ['1m'],
  ])('refuses %j', (value) => {
    expect(parseDuration(value)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [500, '500ms'],
    [94_000, '1m34s'],
    [45_000, '45s'],
    [1_800_000, '30m'],
    [5_400_000, '1h30m'],
    [3_600_000, '1h'],
    [3 * 86_400_000, '3d'],
  ])('%d ms is %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('reads back what it writes', () => {
    for (const ms of [90_000, 5_400_000, 7_200_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
