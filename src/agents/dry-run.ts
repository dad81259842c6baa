// The built-in `dry-run` agent: writes a plausible placeholder artifact at once and costs
// nothing. It exercises a pipeline end to end before money is spent; tests and the quick start
// use it.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Agent, AgentResult } from './types.js';

const PLACEHOLDER =
  'Placeholder written by the dry-run agent: no model was called and nothing was\n' +
  'changed. Run with a real agent (`--agent claude`) to do the work.\n';

export function dryRunAgent(): Agent {
  return {
    label: () => 'dry-run',
    async run(req): Promise<AgentResult> {
      const started = Date.now();
      const frontmatter =
        req.phase === 'triage'
          ? `---\npipeline: ${req.pipeline}\n---\n`
          : req.lens !== undefined || req.phase === 'review'
            ? `---\nverdict: approve\n---\n`
            : '';
      const title = `${req.phase}${req.lens ? ` (${req.lens})` : ''} for ${req.id}`;
      const text = `${frontmatter}# ${title}\n\n${PLACEHOLDER}`;
      await mkdir(path.dirname(req.artifactPath), { recursive: true });
      await writeFile(req.artifactPath, text);
      return { exitCode: 0, durationMs: Date.now() - started, costUsd: 0, outputTail: `wrote ${req.artifactPath}` };
    },
  };
}
