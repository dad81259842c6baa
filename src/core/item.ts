// The work item: pure parse / serialize / update of `item.md` text. No I/O here.
import { createRequire } from 'node:module';
import * as z from 'zod';
import { joinFrontmatter, readYaml, setFields, splitFrontmatter, type Frontmatter } from './frontmatter.js';
import type { Problem } from './problem.js';
import { ID_PATTERN } from './slug.js';

export const ITEM_STATUSES = ['queued', 'running', 'waiting', 'failed'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

export interface ItemFields {
  title: string;
  priority: number;
  pipeline?: string;
  status: ItemStatus;
  attempts: number;
  depends_on: string[];
  labels: string[];
  created?: string;
  cost_usd: number;
  owner?: string;
  approved?: boolean;
  resume_at?: string;
  blocked_reason?: string;
  branch?: string;
  /** The pull request opened for the item's branch (`tend pr`, or `merge: pr`). */
  pr?: string;
  loops: number;
  /** Artifacts written before a person edited an earlier phase's artifact: to be redone. */
  stale: string[];
  /** The artifact whose edit by hand made them stale. */
  stale_source?: string;
}

/**
 * A change to an item's frontmatter: every key tend writes, with the value it writes there;
 * `undefined` removes the key. A key not listed here, or a value of another type, does not
 * compile, so nothing tend writes can surprise the schema that reads it back.
 */
export type ItemChanges = {
  title?: string;
  priority?: number;
  pipeline?: string;
  status?: ItemStatus;
  attempts?: number;
  depends_on?: string[];
  labels?: string[];
  created?: string;
  cost_usd?: number;
  owner?: string;
  approved?: boolean;
  resume_at?: string;
  blocked_reason?: string;
  blocked_phase?: string;
  branch?: string;
  pr?: string;
  loops?: number;
  /** Usage-limit waits in a row (see MAX_LIMIT_WAITS in decide.ts). */
  limit_waits?: number;
  /** The agent whose usage limit parked the item: every item using it waits as well. */
  limited_by?: string;
  /** A reviewer's or a person's reason for sending the work back, for the next attempt. */
  feedback?: string;
  /** Artifacts of later phases written before an earlier phase's artifact was edited by hand. */
  stale?: string[];
  /** The artifact edited by hand that made `stale` stale. */
  stale_source?: string;
  /** Something tend did to the item that its owner should know (a choice it could not use, a key put back). */
  warning?: string;
};

export interface ParsedItem {
  fields: ItemFields;
  frontmatter: Frontmatter;
  /** Every frontmatter key as written, unknown ones included. */
  data: Record<string, unknown>;
}

const isoDate = z.union([z.string(), z.date()]).transform((v, ctx) => {
  const ms = v instanceof Date ? v.getTime() : Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: 'not a date' });
    return z.NEVER;
  }
  return v instanceof Date ? v.toISOString() : v;
});
const oneOrMany = <T extends z.ZodType>(inner: T) =>
  z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(inner));

const itemSchema = z.looseObject({
  title: z.coerce.string().trim().min(1).optional(),
  priority: z.int().min(1).max(5).default(3),
  pipeline: z.string().regex(ID_PATTERN).optional(),
  status: z.enum(ITEM_STATUSES).default('queued'),
  attempts: z.int().min(0).default(0),
  depends_on: oneOrMany(z.string().regex(ID_PATTERN)).default([]),
  labels: oneOrMany(z.coerce.string()).default([]),
  created: isoDate.optional(),
  cost_usd: z.number().min(0).default(0),
  owner: z.string().optional(),
  approved: z.boolean().optional(),
  resume_at: isoDate.optional(),
  blocked_reason: z.string().optional(),
  branch: z.string().optional(),
  pr: z.string().min(1).optional(),
  loops: z.int().min(0).default(0),
  stale: oneOrMany(z.string().min(1)).default([]),
  stale_source: z.string().min(1).optional(),
});

/** What each key must hold, in the words an error message uses. */
const EXPECTED: Record<string, string> = {
  title: 'a non-empty line of text',
  priority: 'an integer from 1 (most urgent) to 5 (someday)',
  pipeline: 'the name of a file in pipelines/ without .md, e.g. coding',
  status: `one of ${ITEM_STATUSES.join(', ')}`,
  attempts: 'a whole number, 0 or more',
  depends_on: 'a list of item ids, e.g. [fix-login, add-tests]',
  labels: 'a list of words, e.g. [bug, ui]',
  created: 'a date such as 2026-11-25T21:04:00Z',
  cost_usd: 'a number of dollars, 0 or more',
  owner: 'host:pid of the run holding the item',
  approved: 'true or false',
  resume_at: 'a date such as 2026-11-25T21:04:00Z',
  blocked_reason: 'a line of text',
  branch: 'a git branch name',
  pr: 'the URL of its pull request',
  loops: 'a whole number, 0 or more',
  stale: 'a list of artifact file names, e.g. [design.md, spec.md]',
  stale_source: 'an artifact file name, e.g. PRD.md',
};

function same(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value); // JSON would say null
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

// remark is loaded on first use (require(esm), Node >= 20.19): most items name their title, and
// loading it up front would add ~75 ms to every command's start-up.
const requireLazily = createRequire(import.meta.url);
let markdown: (typeof import('remark'))['remark'] | undefined;

/** Title for an item that gives none: its first heading, else its file name. */
export function fallbackTitle(body: string, fileStem: string): string {
  markdown ??= (requireLazily('remark') as typeof import('remark')).remark;
  const tree = markdown().parse(body);
  for (const node of tree.children) {
    if (node.type === 'heading') {
      const text = plainText(node).trim();
      if (text) return text;
    }
  }
  return fileStem.replace(/[-_]+/g, ' ').trim() || fileStem;
}

function plainText(node: unknown): string {
  const n = node as { value?: unknown; children?: unknown[] };
  if (typeof n.value === 'string') return n.value;
  return (n.children ?? []).map(plainText).join('');
}

/**
 * Parse item text. `file` names the file in problems; `fileStem` (the inbox file name or the
 * item folder) gives the title when neither frontmatter nor a heading does. `title`: the title a
 * caller sets in the frontmatter next (`tend add`), taken when the frontmatter has none, so the
 * body's headings are not parsed for nothing (the Markdown parser costs ~80 ms to load).
 */
export function parseItem(
  text: string,
  file: string,
  fileStem: string,
  title?: string,
): { item: ParsedItem; problems: [] } | { item?: undefined; problems: Problem[] } {
  const split = splitFrontmatter(text);
  if ('problem' in split) return { problems: [{ file, ...split.problem }] };
  const fm = split.value;
  const yaml = readYaml(fm);
  if (yaml.problems.length > 0) return { problems: yaml.problems.map((p) => ({ file, ...p })) };
  if (!fm.present && fm.body.trim() === '') {
    return {
      problems: [
        {
          file,
          line: 1,
          message: 'the file is empty',
          fix: 'write a title, e.g. `# Fix login on Safari`, and what you want done',
        },
      ],
    };
  }
  // An empty value (`pipeline:`) means "not set", as a human writing YAML would expect.
  const present = Object.fromEntries(Object.entries(yaml.data).filter(([, v]) => v !== null));
  const result = itemSchema.safeParse(present);
  if (!result.success) {
    // zod may find two faults in one value (1e308 is too big and no safe integer): one problem each.
    const issues = result.error.issues.filter((issue, i, all) => all.findIndex((o) => same(o.path, issue.path)) === i);
    const problems = issues.map((issue): Problem => {
      const key = String(issue.path[0] ?? '');
      return {
        file,
        line: yaml.keyLines.get(key),
        key: issue.path.map(String).join('.'),
        message: `expected ${EXPECTED[key] ?? issue.message}, found ${describe(present[key])}`,
      };
    });
    return { problems };
  }
  const { title: given, ...rest } = result.data;
  const fields: ItemFields = { ...rest, title: given ?? title ?? fallbackTitle(fm.body, fileStem) };
  return { item: { fields, frontmatter: fm, data: yaml.data }, problems: [] };
}

export function serializeItem(item: ParsedItem): string {
  return joinFrontmatter(item.frontmatter);
}

/**
 * A copy of the item with frontmatter keys changed (`undefined` removes a key). Only the
 * changed keys' lines differ in the text; the body is untouched.
 */
export function updateItem(item: ParsedItem, changes: ItemChanges): ParsedItem {
  const frontmatter = setFields(item.frontmatter, changes);
  const reparsed = parseItem(joinFrontmatter(frontmatter), '(updated item)', item.fields.title);
  if (!reparsed.item) {
    throw new Error(`internal: update produced an invalid item: ${reparsed.problems.map((p) => p.message).join('; ')}`);
  }
  return reparsed.item;
}
