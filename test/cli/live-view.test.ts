// The live view, seen the way a person sees it: `tend run` in a real pseudo-terminal (util-linux
// `script`), which makes stdout a TTY.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { rename } from 'node:fs/promises';
import { item, runRepo } from '../helpers/engine.js';
import { sharedRepo } from '../helpers/remote.js';
import { cleanEnv, scratchDir, TEND_BIN, writeTree } from '../helpers/repo.js';
import { trackTend } from '../helpers/tend-runs.js';

async function inTerminal(cwd: string, args: string[], env: Record<string, string>, columns?: number): Promise<string> {
  const tend = [process.execPath, TEND_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // The terminal's width is the pty's, not $COLUMNS: stty sets it.
  const command = columns === undefined ? tend : `stty cols ${columns} rows 30; ${tend}`;
  const terminal = execa('script', ['-qfec', command, '/dev/null'], {
    cwd,
    env: cleanEnv({ COLUMNS: '100', LINES: '30', TERM: 'xterm', ...env }),
    extendEnv: false,
    reject: false,
  });
  const result = await trackTend(terminal);
  return String(result.stdout);
}

describe('tend run in a terminal', () => {
  it('shows a live view (running agents, counts, recent transitions) and ends with the summary', async () => {
    const root = await runRepo(
      'slow-write.mjs',
      {
        'backlog/one.md': item('One', 'pipeline: quick-fix\n'),
        'backlog/two.md': item('Two', 'pipeline: quick-fix\n'),
      },
      { concurrency: 2 },
    );
    const screen = await inTerminal(root, ['run', '--once'], {
      FAKE_DELAY_MS: '400',
      FAKE_RENDEZVOUS: await scratchDir(),
    });
    expect(screen).toMatch(/tend run · 2 running · \d+ transitions · \$0\.00/);
    expect(screen).toMatch(/ {2}one {2}triage #1 {2}\S+ {2}working/);
    expect(screen).toMatch(/triage 2/);
    expect(screen).toMatch(/one triage -> build/);
    // eslint-disable-next-line no-control-regex
    expect(screen).toMatch(/\x1b\[\d+A\x1b\[J/); // redrawn in place
    // eslint-disable-next-line no-control-regex
    expect(screen).not.toMatch(/\x1b\[\d+m/); // NO_COLOR (set by the test environment)
    expect(screen).toMatch(/\d+ transitions, 6 phases done, 0 failed attempts/);
    expect(screen).toMatch(/done: (one, two|two, one)/);
  });

  it('is in colour without NO_COLOR; --quiet prints only the summary', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/one.md': item('One', 'pipeline: quick-fix\n') });
    const coloured = await inTerminal(root, ['run', '--once'], { NO_COLOR: '' });
    expect(coloured).toContain('\x1b[1mtend run ·');
    const root2 = await runRepo('write-artifact.mjs', { 'backlog/one.md': item('One', 'pipeline: quick-fix\n') });
    const quiet = await inTerminal(root2, ['run', '--once', '--quiet'], {});
    expect(quiet).not.toContain('tend run ·');
    expect(quiet.trim().split('\n')).toHaveLength(2); // the summary only
    expect(quiet).not.toContain('\x1b[');
  });

  it('a row cut to a narrow terminal keeps its colours as colours, never as literal `?[36m` text', async () => {
    const root = await runRepo('slow-write.mjs', {
      'backlog/an-item-whose-name-is-long.md': item('Long', 'pipeline: quick-fix\n'),
    });
    const screen = await inTerminal(root, ['run', '--once'], { NO_COLOR: '', FAKE_DELAY_MS: '400' }, 40);
    // eslint-disable-next-line no-control-regex
    expect(screen).toMatch(/\x1b\[1mtend run · 1 running · [^\n]*…\r?\n/); // the header row, cut
    expect(screen).toContain('\x1b[36man-item-whose-name-is-long\x1b[39m');
    expect(screen).not.toMatch(/\?\[\d+m/);
  });

  it('a sync that fails (the remote is away) shows that the clone is ahead of it, since when and why, as tend status does', async () => {
    const pair = '---\nphases:\n  - { name: triage }\n  - { name: build }\n---\nTwo phases.\n';
    const { remote, first } = await sharedRepo({ 'pipelines/pair.md': pair }, { script: 'slow-write.mjs' });
    await rename(remote, `${remote}.away`);
    await writeTree(first, { 'backlog/offline.md': item('Offline', 'pipeline: pair\n') });
    const screen = await inTerminal(first, ['run', '--once', '--sync', 'origin'], { FAKE_DELAY_MS: '1500' }, 200);
    expect(screen).toMatch(
      / {2}sync: [1-9]\d* commit\(s\) not on origin\/main since \d{4}-\d\d-\d\d \d\d:\d\d; last try: the remote origin cannot be reached/,
    );
    expect(screen).toMatch(/tend run · 1 running · /);
  });
});
