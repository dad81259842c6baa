// Plain-data builders for the pure engine tests: items, phases, pipelines and a config, made by
// hand (no files, no parsing) so each test states only the fields it is about.
import { DONE, INBOX, type Item } from '../../src/core/backlog.js';
import type { Config } from '../../src/core/config.js';
import type { Phase, Pipeline } from '../../src/core/pipeline.js';
import { DEFAULT_SETTINGS, type Settings } from '../../src/core/settings.js';
import type { ItemFields } from '../../src/core/item.js';

/** 2026-11-25T21:00:00Z: a fixed "now" for every engine test. */
export const NOW = Date.UTC(2026, 10, 25, 21, 0, 0);

export type ItemSpec = Partial<ItemFields> & {
  /** Folder the item sits in: `inbox`, a phase name, `done` or `blocked`. Default `build`. */
  location?: string;
  createdMs?: number;
  body?: string;
};

/** An item `id` in `location` (default `build`), with the defaults intake fills in. */
export function item(id: string, spec: ItemSpec = {}): Item {
  const { location = 'build', createdMs = NOW - 60_000, body = `${id}: some text.\n`, ...overrides } = spec;
  const fields: ItemFields = {
    title: `Item ${id}`,
    priority: 3,
    status: 'queued',
    attempts: 0,
    depends_on: [],
    labels: [],
    cost_usd: 0,
    loops: 0,
    stale: [],
    ...overrides,
  };
  const dir = location === INBOX ? undefined : `backlog/${location}/${id}`;
  const file = dir ? `${dir}/item.md` : `backlog/${id}.md`;
  return {
    id,
    location,
    file,
    dir,
    parsed: {
      fields,
      frontmatter: { bom: false, present: true, open: '---\n', yaml: '', close: '---\n', body, eol: '\n' },
      data: { ...fields },
    },
    fields,
    artifacts: [],
    createdMs,
  };
}

/** A finished item, for depends_on. */
export const doneItem = (id: string): Item => item(id, { location: DONE });

/** A phase with the defaults parsePipeline gives: prompts/<name>.md, artifact <name>.md. */
export function phase(name: string, extra: Partial<Phase> = {}): Phase {
  return { name, prompt: `prompts/${name}.md`, artifact: `${name}.md`, approve: false, max_loops: 2, ...extra };
}

/** A pipeline of `phases` (names or Phase objects). */
export function pipeline(
  name: string,
  phases: (string | Phase)[],
  concurrency: Record<string, number> = {},
  description = '',
): Pipeline {
  return {
    name,
    file: `pipelines/${name}.md`,
    description,
    phases: phases.map((p) => (typeof p === 'string' ? phase(p) : p)),
    concurrency,
  };
}

/** The phases of the packaged `coding` pipeline, as plain data. */
export function coding(concurrency: Record<string, number> = { build: 2 }): Pipeline {
  return pipeline(
    'coding',
    [
      phase('triage'),
      phase('research', { artifact: 'research.md' }),
      phase('prd', { artifact: 'PRD.md' }),
      phase('tech-research'),
      phase('design'),
      phase('spec'),
      phase('build', { workspace: 'worktree' }),
      phase('review', { on_reject: 'build', max_loops: 2 }),
    ],
    concurrency,
    'The full engineering pipeline.',
  );
}

/** A config holding `pipelines` (the first is the default unless settings say otherwise). */
export function config(pipelines: Pipeline[], settings: Partial<Settings> = {}): Config {
  return {
    settings: { ...DEFAULT_SETTINGS, default_pipeline: pipelines[0]?.name ?? 'coding', ...settings },
    context: 'The project context.',
    pipelines: new Map(pipelines.map((p) => [p.name, p])),
    prompts: new Map(),
  };
}
