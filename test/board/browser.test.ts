// tend board in a real headless Chromium (Debian's chromium, driven by playwright-core): the
// cards in their columns, adding and approving from the page, a run's transitions arriving
// without a reload, an item's artifacts rendered, and an item's hostile text running nothing.
// The screenshots in docs/ (shown in the README) are taken here (see DOCS).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, PACKAGE_ROOT, read, tendJson, tendOk, writeTree } from '../helpers/repo.js';
import { boardRepo, startBoard } from './support.js';

const CHROMIUM = process.env.TEND_CHROMIUM ?? '/usr/bin/chromium';
// A closed network: nothing in the background may reach out (and wait for a timeout).
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Written to docs/ only when asked (`TEND_SCREENSHOTS=1 npx vitest run test/board/browser.test.ts`):
// the cards' ages change on every run, so a plain test run would leave the PNGs modified.
const DOCS = process.env.TEND_SCREENSHOTS === '1' ? path.join(PACKAGE_ROOT, 'docs') : path.join(tmpdir(), 'tend-shots');

let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (see .ci/run)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/** A page on a fresh board; `dialogs` collects any alert() or prompt() that content might open. */
async function open(root: string, at = '/') {
  const board = await startBoard(root);
  const page = await browser.newPage({ viewport: { width: 1800, height: 760 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('dialog', (d) => {
    if (d.type() !== 'prompt') problems.push(`dialog: ${d.message()}`);
  });
  await page.goto(new URL(at, board.url).href);
  await page.locator('#live.on').waitFor();
  return { board, page, problems };
}

const cardsIn = (page: Page, location: string) =>
  page.locator(`section.column[data-location="${location}"] article.card`);
const idsIn = async (page: Page, location: string) =>
  (await cardsIn(page, location).evaluateAll((cards) => cards.map((c) => c.getAttribute('data-id')))).sort();

describe('tend board in Chromium', () => {
  it('shows each card in its column, waiting-for-you and labels marked (docs/board.png)', async () => {
    const { page, problems } = await open(await boardRepo());
    await cardsIn(page, 'inbox').first().waitFor();
    expect(await idsIn(page, 'inbox')).toEqual(['fix-the-login', 'hostile']);
    expect(await idsIn(page, 'prd')).toEqual(['spec-me']);
    expect(await idsIn(page, 'blocked')).toEqual(['stuck']);
    const waiting = page.locator('article[data-id="spec-me"]');
    expect(await waiting.locator('.you').textContent()).toBe('waiting for you');
    expect(await page.locator('article[data-id="fix-the-login"] .label').allTextContents()).toEqual(['bug']);
    expect(await page.locator('article[data-id="stuck"] .reason').textContent()).toBe('the build failed twice');
    await mkdir(DOCS, { recursive: true });
    await page.screenshot({ path: path.join(DOCS, 'board.png'), clip: { x: 0, y: 0, width: 1800, height: 340 } });
    expect(problems).toEqual([]);
  });

  it('adds an item from the form: it appears in the inbox and its commit is in git log', async () => {
    const root = await boardRepo();
    const { page, problems } = await open(root);
    await page.fill('#add-form input[name=title]', 'Added in the browser');
    await page.fill('#add-form textarea[name=body]', 'Typed on the board.');
    await page.selectOption('#add-form select[name=priority]', '2');
    await page.fill('#add-form input[name=labels]', 'ui, web');
    await page.click('#add-form button[type=submit]');
    await cardsIn(page, 'inbox').filter({ hasText: 'Added in the browser' }).waitFor();
    expect(await page.locator('#message').textContent()).toBe(
      'added added-in-the-browser (backlog/added-in-the-browser.md)',
    );
    expect((await git(root, 'log', '-1', '--format=%s')).trim()).toBe('tend: added-in-the-browser added');
    const shown = await tendJson<{ items: { id: string; priority: number; labels: string[] }[] }>(root, ['status']);
    expect(shown.items.find((i) => i.id === 'added-in-the-browser')).toMatchObject({
      priority: 2,
      labels: ['ui', 'web'],
    });
    expect(problems).toEqual([]);
  });

  it('approves a waiting item: it moves on to build, one commit', async () => {
    const root = await boardRepo();
    const { page, problems } = await open(root);
    await page.locator('article[data-id="spec-me"] button.approve').click();
    await cardsIn(page, 'build').filter({ hasText: 'Spec me' }).waitFor();
    expect(await idsIn(page, 'prd')).toEqual([]);
    expect((await git(root, 'log', '-1', '--format=%s')).trim()).toBe('tend: spec-me prd -> build (approved)');
    expect(problems).toEqual([]);
  });

  it('shows the transitions of `tend run --once --agent dry-run` without a reload', async () => {
    const root = await boardRepo();
    const { page, problems } = await open(root);
    await cardsIn(page, 'inbox').first().waitFor();
    await page.evaluate(() => Object.assign(globalThis, { tendNotReloaded: true }));
    await tendOk(root, ['run', '--once', '--agent', 'dry-run']);
    const where = await tendJson<{ items: { id: string; location: string }[] }>(root, ['status']);
    const login = where.items.find((i) => i.id === 'fix-the-login')?.location;
    expect(login).toBe('done');
    await cardsIn(page, 'done').filter({ hasText: 'Fix the login' }).waitFor({ timeout: 5000 });
    expect(await idsIn(page, 'inbox')).toEqual([]);
    expect(await page.evaluate(() => (globalThis as { tendNotReloaded?: boolean }).tendNotReloaded)).toBe(true);
    expect(problems).toEqual([]);
  }, 120_000);

  it("renders an item's text and artifacts: a GFM table, code, the history (docs/item.png)", async () => {
    const { page, problems } = await open(await boardRepo(), '/item/spec-me');
    const prd = page.locator('section.block', { has: page.locator('h2', { hasText: 'PRD.md' }) });
    await prd.waitFor();
    expect(await prd.locator('table td').allTextContents()).toEqual(['speed', 'users wait']);
    expect(await prd.locator('pre code.language-js').textContent()).toBe('let x = 1;\n');
    expect(await page.locator('table.history td', { hasText: 'test setup' }).count()).toBe(0);
    await page.screenshot({ path: path.join(DOCS, 'item.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('an edit saved on a stale page is refused with a conflict, and the typed text stays in the form', async () => {
    const root = await boardRepo();
    const { page, problems } = await open(root, '/item/fix-the-login');
    const text = page.locator('form.edit textarea');
    await text.fill('My careful rewrite.');
    // Meanwhile someone changes the item in their editor and commits it; the page redraws.
    await writeTree(root, {
      'backlog/fix-the-login.md': (await read(root, 'backlog/fix-the-login.md')).replace('priority: 1', 'priority: 5'),
    });
    await git(root, 'commit', '--quiet', '-am', 'hand edit');
    await page.locator('#message.conflict').waitFor();
    await page.locator('form.edit button[type=submit]').click();
    await page.locator('#message', { hasText: 'Conflict: fix-the-login changed since this page showed it' }).waitFor();
    expect(await text.inputValue()).toBe('My careful rewrite.');
    expect(await read(root, 'backlog/fix-the-login.md')).not.toContain('My careful rewrite.');
    expect((await git(root, 'log', '-1', '--format=%s')).trim()).toBe('hand edit');
    expect(problems).toEqual([]);
  });

  it('runs nothing from an item whose text holds <script>, onerror= and a javascript: link', async () => {
    const { page, problems } = await open(await boardRepo(), '/item/hostile');
    const text = page.locator('section.block', { has: page.locator('h2', { hasText: 'Text' }) });
    await text.waitFor();
    await page.locator('.markdown a', { hasText: 'click' }).click();
    await page.goto(new URL('/', page.url()).href);
    await page.locator('article[data-id="hostile"]').waitFor();
    expect(await page.evaluate(() => (globalThis as { tendPwned?: number }).tendPwned)).toBeUndefined();
    expect(await page.locator('script:not([src])').count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
