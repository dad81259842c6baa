// Reading the configuration from a real folder: what only the reader can see (where a prompt's
// symlink leads, a missing folder) reaches the checks in core/config-check.ts.
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/edges/config-files.js';
import { scratchDir, writeTree } from '../helpers/repo.js';

const PIPELINE =
  '---\nphases:\n  - { name: build, artifact: build.md }\n  - { name: review, artifact: review.md }\n---\n';

describe('loadConfig', () => {
  it('reads ORCHESTRATOR.md, the pipelines and the prompts they name; a symlink within prompts/ is a prompt', async () => {
    const root = await scratchDir();
    await writeTree(root, {
      'ORCHESTRATOR.md': '---\nagent: dry-run\ndefault_pipeline: quick\n---\nThe project.\n',
      'pipelines/quick.md': PIPELINE,
      'pipelines/notes.txt': 'not a pipeline',
      'prompts/build.md': 'Build {{title}}.',
      'prompts/shared/review.md': 'Review it.',
    });
    await symlink('shared/review.md', path.join(root, 'prompts/review.md'));
    const loaded = await loadConfig(root);
    expect(loaded.errors).toEqual([]);
    expect(loaded.warnings).toEqual([]);
    expect([...loaded.config.pipelines.keys()]).toEqual(['quick']);
    expect(loaded.config.prompts.get('prompts/review.md')).toBe('Review it.');
  });

  it('refuses a prompt whose symlink leads outside prompts/, and never hands its text on', async () => {
    const root = await scratchDir();
    await writeTree(root, {
      'ORCHESTRATOR.md': '---\nagent: dry-run\ndefault_pipeline: quick\n---\n',
      'pipelines/quick.md': PIPELINE,
      'prompts/build.md': 'Build it.',
      'secret.md': 'not a prompt',
    });
    await symlink('../secret.md', path.join(root, 'prompts/review.md'));
    const loaded = await loadConfig(root);
    expect(loaded.errors).toEqual([
      {
        file: 'prompts/review.md',
        message: 'is a symlink that leads outside prompts/',
        fix: 'replace it with the file itself',
      },
    ]);
    expect(loaded.config.prompts.has('prompts/review.md')).toBe(false);
  });

  it('an empty folder: defaults with a warning, and one error for the missing pipelines', async () => {
    const loaded = await loadConfig(await scratchDir());
    expect(loaded.warnings.map((w) => w.file)).toEqual(['ORCHESTRATOR.md']);
    expect(loaded.errors.map((e) => [e.file, e.message])).toEqual([['pipelines/', 'no pipeline found']]);
  });
});
