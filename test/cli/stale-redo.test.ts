// Artifacts that go stale: a person edits an earlier phase's artifact (the PRD) after later
// phases wrote theirs; tend commits the edit as its own transition and marks the later artifacts
// stale; `tend redo <id> --from <phase>` sends the item back, the edit as feedback, and the marks
// clear as the phases run again.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { itemField, tendSubjects } from '../helpers/engine.js';
import { eventually, startLiveRun } from '../helpers/processes.js';
import { git, initializedRepo, tend, tendJson, tendOk } from '../helpers/repo.js';
import { statusJson } from './support.js';

const DIR = 'backlog/spec/signup';

/** An item through the `coding` pipeline with dry-run, waiting for approval after spec. */
async function waitingAtSpec(): Promise<string> {
  const root = await initializedRepo();
  const pipeline = path.join(root, 'pipelines/coding.md');
  const text = await readFile(pipeline, 'utf8');
  await writeFile(
    pipeline,
    text.replace('{ name: spec, artifact: spec.md }', '{ name: spec, artifact: spec.md, approve: true }'),
  );
  await git(root, 'commit', '--quiet', '-am', 'spec waits for a person');
  await tendOk(root, ['add', 'Signup']);
  await tendOk(root, ['run', '--once', '--agent', 'dry-run']);
  expect(await itemField(root, `${DIR}/item.md`, 'status')).toBe('waiting');
  return root;
}

async function editPrd(root: string): Promise<void> {
  const file = path.join(root, DIR, 'PRD.md');
  await writeFile(file, `${await readFile(file, 'utf8')}\nAlso: sign up with a passkey.\n`);
}

describe('stale artifacts and tend redo', () => {
  it('a PRD edited by hand marks the later artifacts stale, in its own commit; redo --from design reruns and clears', async () => {
    const root = await waitingAtSpec();
    await editPrd(root);
    // A one-shot pass picks the edit up as it does any change made by hand while no run went.
    const pass = await tendOk(root, ['run', '--once', '--agent', 'dry-run']);
    expect(pass.stderr).toBe('');
    const subject = (await git(root, 'log', '-1', '--format=%s')).trim();
    expect(subject).toBe('tend: signup edited by hand; PRD.md changed, stale: tech-research.md, design.md, spec.md');
    expect((await git(root, 'log', '-1', '--format=%(trailers:key=Tend-Outcome,valueonly)')).trim()).toBe('stale');
    expect((await git(root, 'show', '--name-only', '--format=', 'HEAD')).split('\n').sort()).toEqual([
      `${DIR}/PRD.md`,
      `${DIR}/item.md`,
    ]);
    expect(await git(root, 'status', '--porcelain')).toBe('');

    const board = await statusJson(root);
    const signup = board.items.find((i) => i.id === 'signup');
    expect(signup?.stale).toEqual(['tech-research.md', 'design.md', 'spec.md']);
    expect(signup?.stale_source).toBe('PRD.md');
    expect((await tendOk(root, ['status'])).stdout).toMatch(/signup .* stale: tech-research\.md, design\.md, spec\.md/);
    const shown = (await tendOk(root, ['show', 'signup'])).stdout;
    expect(shown).toContain(`${DIR}/design.md  (stale)`);
    expect(shown).not.toContain(`${DIR}/PRD.md  (stale)`);
    expect(shown).toContain('stale since PRD.md was edited by hand: tech-research.md, design.md, spec.md');

    const redo = await tendOk(root, ['redo', 'signup', '--from', 'design']);
    expect(redo.stdout).toBe('signup: spec -> design (redo, PRD.md edited)');
    const dir = 'backlog/design/signup';
    expect(await itemField(root, `${dir}/item.md`, 'status')).toBe('queued');
    expect(await itemField(root, `${dir}/item.md`, 'feedback')).toMatch(
      /^PRD\.md was edited by hand .* edited PRD\.md\.$/,
    );
    // The person chose to keep tech-research: only what reruns stays marked.
    expect(await itemField(root, `${dir}/item.md`, 'stale')).toBe('["design.md","spec.md"]');
    expect((await git(root, 'log', '-1', '--format=%(trailers:key=Tend-Outcome,valueonly)')).trim()).toBe('redo');

    await tendOk(root, ['run', '--once', '--agent', 'dry-run']);
    const item = `${DIR}/item.md`;
    expect(await itemField(root, item, 'status')).toBe('waiting');
    expect(await itemField(root, item, 'stale')).toBeUndefined();
    expect(await itemField(root, item, 'stale_source')).toBeUndefined();
    expect(await itemField(root, item, 'feedback')).toBeUndefined();
    const log = await git(root, 'log', '--format=%s', '-4');
    expect(log.split('\n').reverse()).toEqual([
      'tend: signup design started (attempt 1)',
      'tend: signup design -> spec',
      'tend: signup spec started (attempt 1)',
      'tend: signup spec waiting for approval',
    ]);
    expect((await tendOk(root, ['status'])).stdout).not.toContain('stale');
  });

  it(
    'marks clear phase by phase: once design has run again, spec is still stale until it runs',
    { timeout: 60_000 },
    async () => {
      const root = await waitingAtSpec();
      await editPrd(root);
      await tendOk(root, ['run', '--once', '--agent', 'dry-run']);
      // spec waits for approval: make design wait too, so the run stops between the two.
      const pipeline = path.join(root, 'pipelines/coding.md');
      const text = await readFile(pipeline, 'utf8');
      await writeFile(
        pipeline,
        text.replace('{ name: design, artifact: design.md }', '{ name: design, artifact: design.md, approve: true }'),
      );
      await git(root, 'commit', '--quiet', '-am', 'design waits too');
      await tendOk(root, ['redo', 'signup', '--from', 'tech-research', '--reason', 'Mind the passkey.']);
      expect(await itemField(root, 'backlog/tech-research/signup/item.md', 'feedback')).toMatch(/ Mind the passkey\.$/);
      await tendOk(root, ['run', '--once', '--agent', 'dry-run']);
      const item = 'backlog/design/signup/item.md';
      expect(await itemField(root, item, 'status')).toBe('waiting');
      // design has written its artifact again (it waits for approval now): spec has not yet.
      expect(await itemField(root, item, 'stale')).toBe('["spec.md"]');
      expect(await itemField(root, item, 'stale_source')).toBe('PRD.md');
      expect((await tendOk(root, ['status'])).stdout).toMatch(/signup .* stale: spec\.md$/m);
      await tendOk(root, ['approve', 'signup']);
      await tendOk(root, ['run', '--once', '--agent', 'dry-run']);
      expect(await itemField(root, `${DIR}/item.md`, 'stale')).toBeUndefined();
    },
  );

  it('live: a watching run commits the edit at once, and reruns the item once `tend redo` sends it back', async () => {
    const root = await waitingAtSpec();
    const run = startLiveRun(root, { args: ['--agent', 'dry-run'] });
    await eventually(run.output, (o) => o.includes('watching backlog/'), 'the watcher to be ready');
    await editPrd(root);
    const marked = 'tend: signup edited by hand; PRD.md changed, stale: tech-research.md, design.md, spec.md';
    await eventually(
      () => tendSubjects(root),
      (s) => s.includes(marked),
      'the stale commit',
    );
    expect(await itemField(root, `${DIR}/item.md`, 'stale')).toBe('["tech-research.md","design.md","spec.md"]');
    await tendOk(root, ['redo', 'signup', '--from', 'tech-research']);
    const subjects = await eventually(
      () => tendSubjects(root),
      (s) => s.filter((x) => x === 'tend: signup spec waiting for approval').length === 2,
      'the rerun to wait at spec again',
    );
    expect(subjects.slice(subjects.indexOf(marked) + 1)).toEqual([
      'tend: signup spec -> tech-research (redo, PRD.md edited)',
      'tend: signup tech-research started (attempt 1)',
      'tend: signup tech-research -> design',
      'tend: signup design started (attempt 1)',
      'tend: signup design -> spec',
      'tend: signup spec started (attempt 1)',
      'tend: signup spec waiting for approval',
    ]);
    expect(await itemField(root, `${DIR}/item.md`, 'stale')).toBeUndefined();
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
  });

  it('redo: an unknown phase exits 2, an unknown id 1, a phase ahead of the item 1, each with a message', async () => {
    const root = await waitingAtSpec();
    const phase = await tend(root, ['redo', 'signup', '--from', 'desing']);
    expect(phase.exitCode).toBe(2);
    expect(phase.stderr).toContain('coding has no phase "desing"');
    expect(phase.stderr).toContain(
      '--from takes one of: triage, research, prd, tech-research, design, spec, build, review',
    );
    const id = await tend(root, ['redo', 'nobody', '--from', 'design']);
    expect(id.exitCode).toBe(1);
    expect(id.stderr).toContain('no item with id nobody');
    const ahead = await tend(root, ['redo', 'signup', '--from', 'build']);
    expect(ahead.exitCode).toBe(1);
    expect(ahead.stderr).toContain('signup is in spec, which comes before build');
    expect((await tendJson<{ items: { id: string; location: string }[] }>(root, ['status'])).items).toEqual([
      expect.objectContaining({ id: 'signup', location: 'spec' }),
    ]);
  });

  it('an edit to an artifact with nothing after it marks nothing stale: a plain edit by hand', async () => {
    const root = await waitingAtSpec();
    const file = path.join(root, DIR, 'spec.md');
    await writeFile(file, `${await readFile(file, 'utf8')}\nOne more line.\n`);
    await tendOk(root, ['run', '--once', '--agent', 'dry-run']);
    expect((await git(root, 'log', '-1', '--format=%s')).trim()).toBe('tend: signup edited by hand');
    expect((await git(root, 'log', '-1', '--format=%(trailers:key=Tend-Outcome,valueonly)')).trim()).toBe('edited');
    expect(await itemField(root, `${DIR}/item.md`, 'stale')).toBeUndefined();
  });
});
