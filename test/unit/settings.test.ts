// ORCHESTRATOR.md settings: defaults for everything, every mistake reported with file, line, key.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { agentType, DEFAULT_SETTINGS, parseSettings, SETTING_KEYS } from '../../src/core/settings.js';

const packaged = readFileSync(new URL('../../ORCHESTRATOR.md', import.meta.url), 'utf8');

describe('parseSettings', () => {
  it('gives the defaults for an empty file', () => {
    expect(parseSettings('')).toEqual({
      settings: DEFAULT_SETTINGS,
      context: '',
      errors: [],
      warnings: [],
      brokenAgents: [],
    });
    expect(DEFAULT_SETTINGS).toMatchObject({
      agent: 'claude',
      concurrency: 1,
      timeout: 30 * 60_000,
      retries: 2,
      workspace: 'repo',
    });
  });

  it('reads the packaged ORCHESTRATOR.md, which documents exactly the defaults', () => {
    const parsed = parseSettings(packaged);
    expect(parsed.errors).toEqual([]);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.settings).toEqual(DEFAULT_SETTINGS);
    expect(parsed.context).toMatch(/^tend is a git-native orchestrator/);
  });

  it('the packaged ORCHESTRATOR.md mentions every setting and sub-setting, so it is the reference', () => {
    const frontmatter = packaged.split('\n---\n')[0] ?? '';
    const keys = [
      ...SETTING_KEYS,
      'per_item_usd',
      'per_run_usd',
      'per_day_usd',
      'branch',
      'remote',
      'sync_every',
      'lease_grace',
      'author',
      'after_create',
      'before_run',
      'after_run',
      'before_remove',
    ];
    for (const key of keys) expect(frontmatter, key).toMatch(new RegExp(`^#?\\s*${key}:`, 'm'));
  });

  it('reads durations and nested settings', () => {
    const { settings, errors } = parseSettings(
      '---\ntimeout: 1h30m\nretry_backoff: 45\ngit: { author: "Tend Bot <bot@example.com>" }\n---\nContext.\n',
    );
    expect(errors).toEqual([]);
    expect(settings).toMatchObject({
      timeout: 5_400_000,
      retry_backoff: 45_000,
      git: { author: 'Tend Bot <bot@example.com>' },
    });
  });

  it('reports a wrong type and a bad duration with file, line and key; the broken settings take their defaults', () => {
    const parsed = parseSettings('---\nagent: codex\nconcurrency: lots\ntimeout: soon\n---\n', 'ORCHESTRATOR.md');
    expect(parsed.errors).toEqual([
      {
        file: 'ORCHESTRATOR.md',
        line: 3,
        key: 'concurrency',
        message: expect.stringMatching(/expected number.*found "lots"/),
      },
      {
        file: 'ORCHESTRATOR.md',
        line: 4,
        key: 'timeout',
        message: 'expected a duration such as 90s, 30m or 1h30m, found "soon"',
      },
    ]);
    expect(parsed.settings).toEqual({ ...DEFAULT_SETTINGS, agent: 'codex' });
  });

  it('a broken agent is left out alone: the valid ones and the other settings stay', () => {
    const parsed = parseSettings(
      '---\nagent: good\ntimeout: 5m\nagents:\n  good: { command: [a] }\n  bad: { comand: [b] }\n---\n',
    );
    expect(parsed.errors).toEqual([
      expect.objectContaining({ key: 'agents.bad', line: 6, message: 'unknown key comand' }),
    ]);
    expect(parsed.brokenAgents).toEqual(['bad']);
    expect(parsed.settings).toMatchObject({ agent: 'good', timeout: 300_000, agents: { good: { command: ['a'] } } });
    expect(parsed.settings.agents.bad).toBeUndefined();
  });

  it('names nested keys', () => {
    const { errors } = parseSettings('---\nhooks: { timeout: never }\ngit: { author: bob }\n---\n');
    expect(errors).toHaveLength(2);
    expect(errors).toContainEqual(expect.objectContaining({ key: 'hooks.timeout', line: 2 }));
    expect(errors).toContainEqual(
      expect.objectContaining({ key: 'git.author', line: 3, message: expect.stringContaining('"Name <email>"') }),
    );
  });

  it('warns about an unknown setting without failing', () => {
    const parsed = parseSettings('---\nconcurency: 2\n---\n');
    expect(parsed.errors).toEqual([]);
    expect(parsed.warnings).toEqual([
      {
        file: 'ORCHESTRATOR.md',
        line: 2,
        key: 'concurency',
        message: 'unknown setting, ignored',
        fix: expect.stringContaining('concurrency'),
      },
    ]);
    expect(parsed.settings.concurrency).toBe(1);
  });

  it('reports a YAML error and an unclosed block as errors', () => {
    expect(parseSettings('---\nagent: [claude\n---\n').errors).toEqual([
      { file: 'ORCHESTRATOR.md', line: 3, message: expect.stringMatching(/^invalid YAML/), fix: expect.any(String) },
    ]);
    expect(parseSettings('---\nagent: claude\n').errors).toEqual([
      { file: 'ORCHESTRATOR.md', line: 1, message: expect.stringMatching(/never closed/), fix: expect.any(String) },
    ]);
  });
});

describe('agentType', () => {
  const { settings } = parseSettings(
    '---\nagents:\n  mine: { command: [my-agent, "{prompt_file}"] }\n  fast: { type: codex, model: o4 }\n  claude: { args: [--verbose] }\n---\n',
  );
  it.each([
    ['claude', 'claude'],
    ['codex', 'codex'],
    ['dry-run', 'dry-run'],
    ['mine', 'command'],
    ['fast', 'codex'],
    ['nobody', undefined],
  ])('%s is %s', (name, type) => {
    expect(agentType(settings, name)).toBe(type);
  });
});
