// `tend show <id>` says what the item's work changed: the diffstat of its branch against the
// base, or of the commit(s) that landed it, and `--diff` prints the whole diff.
import { describe, expect, it } from 'vitest';
import { item, runRepo } from '../helpers/engine.js';
import { git, tend, tendJson, tendOk } from '../helpers/repo.js';

const quickFix = (title: string) => item(title, 'pipeline: quick-fix\n');

interface Changes {
  changes: { files: number; insertions: number; deletions: number; source: 'branch' | 'merge' | null };
}

describe('tend show: what the work changed', () => {
  it('a done item whose branch was kept (merge: none): its diffstat, and --diff the whole patch', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/feature.md': quickFix('Feature') });
    await tendOk(root, ['run', '--once']);
    // The base moves on after the branch left it: that is not the item's change.
    await git(root, 'commit', '--quiet', '--allow-empty', '-m', 'later work on main');
    const json = await tendJson<Changes>(root, ['show', 'feature']);
    expect(json.changes).toEqual({ files: 1, insertions: 1, deletions: 0, source: 'branch' });

    const text = (await tendOk(root, ['show', 'feature'])).stdout;
    const changes = text.slice(text.indexOf('\nchanges\n'), text.indexOf('\nhistory\n'));
    expect(changes).toContain('branch tend/feature against where it left the base');
    expect(changes).toMatch(/src\/feature\.txt \| 1 \+\n\s*1 file changed, 1 insertion\(\+\)/);
    expect(text).not.toContain('diff --git');

    const diff = (await tendOk(root, ['show', 'feature', '--diff'])).stdout;
    expect(diff).toContain('diff --git a/src/feature.txt b/src/feature.txt');
    expect(diff).toContain('+written for feature');
    expect(diff).not.toContain('\x1b['); // NO_COLOR (set by the test helpers) and not a terminal
  });

  it('merge: merge — the merge commit that landed it, once the branch is gone', async () => {
    // tidy-up is merged after tidy: its merge commit, newer, must not be taken for tidy's.
    const items = {
      'backlog/tidy.md': quickFix('Tidy'),
      'backlog/tidy-up.md': item('Tidy up', 'pipeline: quick-fix\npriority: 4\n'),
    };
    const root = await runRepo('commit-code.mjs', items, { merge: 'merge' });
    await tendOk(root, ['run', '--once']);
    expect(await git(root, 'branch', '--list', 'tend/tidy*')).toBe('');
    const json = await tendJson<Changes>(root, ['show', 'tidy']);
    expect(json.changes).toEqual({ files: 1, insertions: 1, deletions: 0, source: 'merge' });
    const diff = (await tendOk(root, ['show', 'tidy', '--diff'])).stdout;
    expect(diff).toMatch(/^\+written for tidy$/m);
    expect(diff).not.toContain('tidy-up');
  });

  it('merge: ff — the commits fast-forwarded in before its done transition', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/quick.md': quickFix('Quick') }, { merge: 'ff' });
    await tendOk(root, ['run', '--once']);
    expect(await git(root, 'branch', '--list', 'tend/quick')).toBe('');
    const json = await tendJson<Changes>(root, ['show', 'quick']);
    expect(json.changes).toEqual({ files: 1, insertions: 1, deletions: 0, source: 'merge' });
    expect((await tendOk(root, ['show', 'quick'])).stdout).toMatch(/src\/quick\.txt \| 1 \+/);
  });

  it('an item that never had a branch: no changes, said so', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/idea.md': item('Idea') });
    await tendOk(root, ['add', 'Later']);
    const json = await tendJson<Changes>(root, ['show', 'later']);
    expect(json.changes).toEqual({ files: 0, insertions: 0, deletions: 0, source: null });
    const text = (await tend(root, ['show', 'later', '--diff'])).stdout;
    expect(text).toContain('(no branch tend/later and no merge of it found)');
    expect(text).not.toContain('diff --git');
  });
});
