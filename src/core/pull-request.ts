// Pull requests for finished items (`tend pr <id>`, `merge: pr`): the body is the item's part of
// the report, the URL is recorded on the item and in a `Tend-PR` trailer. Pure.
import { DONE, type Item } from './backlog.js';
import type { Decision } from './decide.js';
import { oneFinished, wrapLines } from './report-md.js';
import type { Finished } from './report.js';

/** The item's part of the report, for a pull request's body: what, why, review verdicts, cost, links. */
export function pullRequestBody(finished: Finished, linkPrefix: string): string {
  const [, , ...rest] = oneFinished({ ...finished, branch: null, pr: null }, linkPrefix);
  // The title is the pull request's own; "review it" would point at the pull request itself.
  const lines = rest.filter((l) => !l.startsWith('- review it:'));
  return [`Opened by tend for item \`${finished.id}\`.`, '', ...wrapLines(lines), ''].join('\n');
}

/** The item's done transition records the pull request opened for it (`tend pr` by hand). */
export function decidePullRequest(item: Item, url: string): Decision {
  return {
    changes: { pr: url },
    transition: {
      id: item.id,
      phase: DONE,
      summary: `pull request ${url}`,
      outcome: 'pr',
      extra: { 'Tend-PR': url },
    },
  };
}

/**
 * Where a file on `branch` is seen on GitHub, from the remote's URL (`git@github.com:o/r.git`,
 * `https://github.com/o/r`), so links in a pull request's body work; undefined for other hosts,
 * whose bodies keep paths relative to the repository root.
 */
export function githubBlobPrefix(remoteUrl: string, branch: string): string | undefined {
  const m = /^(?:git@github\.com:|(?:https|ssh):\/\/(?:[^@/]+@)?github\.com\/)([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(
    remoteUrl.trim(),
  );
  if (!m) return undefined;
  return `https://github.com/${m[1]}/${m[2]}/blob/${encodeURIComponent(branch)}/`;
}
