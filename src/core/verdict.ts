// The verdict of a review artifact. Models write it in many shapes (`verdict: approve` in
// frontmatter, `**Verdict:** APPROVED`, `## Verdict: reject`, `Verdict — request changes`), so
// each of these counts; prose that merely mentions "reject" does not: the verdict must be a line
// labelled `verdict` among the first lines of the review. Pure: no I/O.
import { readYaml, splitFrontmatter } from './frontmatter.js';

export type Verdict = 'approve' | 'reject';

/** How many non-empty lines of the body (after any frontmatter) may hold the verdict line. */
export const VERDICT_LINES = 20;

const WRITE_IT = 'start it with `verdict: approve` or `verdict: reject`';

const APPROVE = /^(?:approve[sd]?|approving|accept(?:ed|s)?|lgtm|looks good to me|ship it)\b/;
const REJECT = /^(?:reject(?:ed|s)?|rejecting|request(?:ed|ing)? changes|changes requested|needs? changes)\b/;

/** `approve`, `reject`, or undefined for a value that is neither (`pending`, `true`). */
export function verdictWord(value: unknown): Verdict | undefined {
  if (typeof value !== 'string') return undefined;
  // Leading marks a model adds (`✅ approve`, `"reject"`) and trailing punctuation do not matter.
  const text = value
    .toLowerCase()
    .replace(/^[^a-z]+/, '')
    .trim();
  if (APPROVE.test(text)) return 'approve';
  if (REJECT.test(text)) return 'reject';
  return undefined;
}

// `verdict: x`, `Verdict — x`, `## Verdict: x`, `- Verdict = x` once emphasis marks are removed.
const LABELLED = /^\s*(?:#{1,6}\s*)?(?:[-+>]\s*)?verdict\s*(?::|=|—|–|-{1,2})\s*(.*)$/i;

/** The verdict of a review's text, or why there is none, in words for `blocked_reason`. */
export function readVerdict(text: string): { verdict: Verdict } | { problem: string } {
  const split = splitFrontmatter(text);
  let body = text;
  if ('value' in split) {
    body = split.value.body;
    const yaml = readYaml(split.value);
    const written = yaml.data.verdict;
    if (written !== undefined && written !== null) {
      const verdict = verdictWord(written);
      if (verdict) return { verdict };
      return { problem: `its frontmatter says verdict: ${JSON.stringify(written)}; ${WRITE_IT}` };
    }
  }
  const lines = body
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(0, VERDICT_LINES);
  let unreadable: string | undefined;
  for (const line of lines) {
    const match = LABELLED.exec(line.replace(/[*_`]/g, ''));
    if (!match) continue;
    const verdict = verdictWord(match[1]);
    if (verdict) return { verdict };
    unreadable ??= line.trim();
  }
  const why = unreadable
    ? `its verdict line ${JSON.stringify(unreadable.slice(0, 80))} says neither approve nor reject`
    : 'it gives no verdict';
  const where = `in frontmatter, or on a line of its own in the first ${VERDICT_LINES} lines`;
  return { problem: `${why}; ${WRITE_IT} (${where})` };
}
