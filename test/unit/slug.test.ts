// Ids: safe as folder, branch and argument names, and never a way out of backlog/.
import { describe, expect, it } from 'vitest';
import { isValidId, slugify, uniqueId } from '../../src/core/slug.js';

describe('slugify', () => {
  it.each([
    ['Fix Login on Safari!', 'fix-login-on-safari'],
    ['  Add `--json` to status/show (v2)  ', 'add-json-to-status-show-v2'],
    ['Café crème brûlée', 'cafe-creme-brulee'],
    ['Ärger über Öl', 'arger-uber-ol'],
    ['修复登录 bug', 'bug'],
    ['修复登录', ''],
    ['!!!', ''],
  ])('%j -> %j', (title, slug) => {
    expect(slugify(title)).toBe(slug);
  });

  it('cuts a long title at a dash, to at most 60 characters', () => {
    const title = 'Make the scheduler respect per phase concurrency limits when several pipelines share a phase';
    const slug = slugify(title);
    expect(slug.length).toBeLessThanOrEqual(60);
    expect(slug).toBe('make-the-scheduler-respect-per-phase-concurrency-limits-when');
    expect(isValidId(slug)).toBe(true);
  });

  it('drops a word that would cross the limit', () => {
    expect(slugify(`${'a'.repeat(30)} ${'b'.repeat(40)}`)).toBe('a'.repeat(30));
  });

  it('cuts a long word-less title at 60 characters', () => {
    expect(slugify('x'.repeat(100))).toBe('x'.repeat(60));
  });
});

describe('uniqueId', () => {
  it('returns the base when it is free, else the first free numbered variant', () => {
    const taken = new Set(['fix-login', 'fix-login-2']);
    expect(uniqueId('add-tests', (id) => taken.has(id))).toBe('add-tests');
    expect(uniqueId('fix-login', (id) => taken.has(id))).toBe('fix-login-3');
  });

  it('stays a valid id for the longest slug', () => {
    const base = slugify('y'.repeat(100));
    expect(isValidId(uniqueId(base, (id) => id === base))).toBe(true);
  });
});

describe('isValidId', () => {
  it.each(['fix-login', 'a', '42', 'v2-api'])('accepts %j', (id) => {
    expect(isValidId(id)).toBe(true);
  });
  it.each(['', '..', '.', 'a/b', '/abs', 'a\\b', 'Fix', '-lead', 'trail-', 'a b', 'x'.repeat(65)])(
    'refuses %j',
    (id) => {
      expect(isValidId(id)).toBe(false);
    },
  );
});
