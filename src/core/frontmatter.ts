// Frontmatter that round-trips byte for byte. gray-matter rewrites the whole block on a round
// trip (comments dropped, quotes and lists reformatted, CRLF turned into LF; measured figures in
// the README, "Libraries"), so this module splits the
// text itself and edits a key by splicing new text at the position the `yaml` parser reports:
// changing one key rewrites one line, and comments, quoting and key order stay as written.
import { isCollection, isMap, isScalar, LineCounter, parseDocument, stringify, visit, type Document } from 'yaml';

export interface Frontmatter {
  /** The file began with a UTF-8 byte order mark (kept on write). */
  bom: boolean;
  /** Whether the file had a frontmatter block at all. */
  present: boolean;
  /** Opening delimiter line, e.g. `---\n`; empty when absent. */
  open: string;
  /** The YAML text between the delimiters, exactly as written. */
  yaml: string;
  /** Closing delimiter line, e.g. `---\r\n`; empty when absent. */
  close: string;
  /** Everything after the closing delimiter, byte for byte. */
  body: string;
  /** Line ending used by the file; new lines are written with it. */
  eol: '\n' | '\r\n';
}

export interface YamlProblem {
  line: number;
  /** The top-level key at fault, when the YAML error is about one (a duplicate key). */
  key?: string;
  message: string;
  /** What the user can do about it. */
  fix?: string;
}

const OPEN = /^---[ \t]*(\r?\n)/;
const CLOSE = /^(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/m;

/** Split a Markdown file into frontmatter and body. Returns a problem for an unclosed block. */
export function splitFrontmatter(text: string): { value: Frontmatter } | { problem: YamlProblem } {
  const bom = text.startsWith('\uFEFF');
  const rest = bom ? text.slice(1) : text;
  const open = OPEN.exec(rest);
  // New frontmatter lines follow the block's own line ending, not a CRLF pasted into the body.
  const eol: Frontmatter['eol'] = (open ? open[0] : rest.slice(0, 4096)).includes('\r\n') ? '\r\n' : '\n';
  if (!open) return { value: { bom, present: false, open: '', yaml: '', close: '', body: rest, eol } };
  const afterOpen = rest.slice(open[0].length);
  // The block may be empty: the closing line can follow the opening line directly.
  const close = CLOSE.exec(afterOpen);
  if (!close) {
    return {
      problem: {
        line: 1,
        message: 'frontmatter opened with `---` on line 1 is never closed',
        fix: 'add a `---` line after the last key',
      },
    };
  }
  return {
    value: {
      bom,
      present: true,
      open: open[0],
      yaml: afterOpen.slice(0, close.index),
      close: close[0],
      body: afterOpen.slice(close.index + close[0].length),
      eol,
    },
  };
}

export function joinFrontmatter(fm: Frontmatter): string {
  return (fm.bom ? '\uFEFF' : '') + fm.open + fm.yaml + fm.close + fm.body;
}

export interface ParsedYaml {
  data: Record<string, unknown>;
  /** 1-based line (in the whole file) of each top-level key. */
  keyLines: Map<string, number>;
  /** 1-based file line of the value at a path such as ['phases', 2, 'timeout'], or of its nearest existing parent. */
  lineAt: (path: readonly PropertyKey[]) => number | undefined;
  problems: YamlProblem[];
}

/**
 * Frontmatter holds settings and a few short fields: a larger block is a mistake or an attack,
 * and parsing one with thousands of keys takes seconds on every read of the backlog.
 */
export const MAX_FRONTMATTER_BYTES = 256 * 1024;

/** Aliases a block may expand: enough for any real use, far too few for a "billion laughs". */
const MAX_ALIAS_COUNT = 100;

const TAG_PREFIX = 'tag:yaml.org,2002:';

const SYNTAX_FIX =
  'correct the YAML on that line: quote a value that holds `: `, `#` or starts with `[`, `{`, `*`, `&`, `!`';

function noLines(): undefined {
  return undefined;
}

/** Parse the YAML block. Lines are reported in file coordinates (the `---` line is line 1). Never throws. */
export function readYaml(fm: Frontmatter): ParsedYaml {
  const keyLines = new Map<string, number>();
  const empty = (problems: YamlProblem[]): ParsedYaml => ({ data: {}, keyLines, lineAt: noLines, problems });
  if (!fm.present || fm.yaml.trim() === '') return empty([]);
  if (fm.yaml.length > MAX_FRONTMATTER_BYTES) {
    const size = `${Math.ceil(fm.yaml.length / 1024)} KiB`;
    const message = `the frontmatter is ${size}, more than the ${MAX_FRONTMATTER_BYTES / 1024} KiB allowed`;
    return empty([{ line: 2, message, fix: 'move long text below the closing `---`, into the body' }]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(fm.yaml, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const fileLine = (offset: number) => lineCounter.linePos(offset).line + 1;
  const problems = [...doc.errors.map((e) => yamlProblem(doc, e)), ...tagProblems(doc, fileLine)];
  if (problems.length > 0) return empty(problems);
  // Only comments between the delimiters: as empty as `---\n---\n`.
  if (doc.contents === null) return empty([]);
  if (!isMap(doc.contents)) {
    const found = isCollection(doc.contents) ? 'a list' : 'a single value';
    const fix = 'write one `key: value` per line, e.g. `title: Fix login`';
    return empty([{ line: 2, message: `the frontmatter is ${found}, not \`key: value\` lines`, fix }]);
  }
  for (const pair of doc.contents.items) {
    if (isScalar(pair.key) && pair.key.range) keyLines.set(String(pair.key.value), fileLine(pair.key.range[0]));
  }
  let data: Record<string, unknown> | null;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Record<string, unknown> | null;
  } catch (err) {
    // yaml throws a ReferenceError for an alias bomb; a stack overflow is a RangeError.
    return empty([
      {
        line: firstAliasLine(doc, fileLine) ?? 2,
        message: `the YAML cannot be read: ${err instanceof Error ? err.message : String(err)}`,
        fix: 'write the values out instead of repeating them with `&anchor` and `*alias`',
      },
    ]);
  }
  return { data: data ?? {}, keyLines, lineAt: (path) => nodeLine(doc, path, fileLine), problems };
}

function yamlProblem(doc: Document, e: Document['errors'][number]): YamlProblem {
  // The parser's own "at line N, column M:" counts from the YAML block, not the file: drop it.
  const problem: YamlProblem = {
    line: (e.linePos?.[0].line ?? 0) + 1,
    message: `invalid YAML: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`,
    fix: /call stack/i.test(e.message) ? 'nest lists and maps a few levels deep, not thousands' : SYNTAX_FIX,
  };
  if (e.code === 'DUPLICATE_KEY' && isMap(doc.contents)) {
    const dup = doc.contents.items.find((p) => isScalar(p.key) && p.key.range?.[0] === e.pos[0]);
    if (dup && isScalar(dup.key)) {
      problem.key = String(dup.key.value);
      problem.message = `the key ${problem.key} appears more than once`;
      problem.fix = 'keep one of its lines';
    }
  }
  return problem;
}

/** A tag yaml does not know (`!foo`, `!!js/function`) would be read as plain text: refuse it instead. */
function tagProblems(doc: Document, fileLine: (offset: number) => number): YamlProblem[] {
  return doc.warnings
    .filter((w) => w.code === 'TAG_RESOLVE_FAILED')
    .map((w) => ({
      line: fileLine(w.pos[0]),
      // yaml names `!!x` by its full name, tag:yaml.org,2002:x; show it as written.
      message: `unknown YAML tag ${(/Unresolved tag: (\S+)/.exec(w.message)?.[1] ?? '').replace(TAG_PREFIX, '!!')}`,
      fix: 'remove the `!tag` before the value; frontmatter holds plain text, numbers, lists and maps',
    }));
}

function firstAliasLine(doc: Document, fileLine: (offset: number) => number): number | undefined {
  let line: number | undefined;
  visit(doc, {
    Alias(_, node) {
      if (node.range) line = fileLine(node.range[0]);
      return visit.BREAK;
    },
  });
  return line;
}

/** The line of the deepest node along `path` that exists. */
function nodeLine(
  doc: Document,
  path: readonly PropertyKey[],
  fileLine: (offset: number) => number,
): number | undefined {
  let line: number | undefined;
  for (let depth = 1; depth <= path.length; depth++) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (!node?.range) break;
    line = fileLine(node.range[0]);
  }
  return line;
}

/** YAML text for one value, on one line so a change is a one-line diff: `[a, b]`, `{ a: 1 }`. */
function yamlValue(value: unknown): string {
  if (typeof value === 'string' && /[\r\n]/.test(value)) return JSON.stringify(value);
  return stringify(value, { flowCollectionPadding: false, lineWidth: 0, collectionStyle: 'flow' }).trimEnd();
}

function topLevelPair(doc: Document, key: string) {
  if (!isMap(doc.contents)) return undefined;
  return doc.contents.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
}

/**
 * Set (or, with `undefined`, remove) top-level keys, touching only their lines. Pure: returns a
 * new Frontmatter. New keys are appended in the order given.
 */
export function setFields(fm: Frontmatter, changes: Record<string, unknown>): Frontmatter {
  let yaml = fm.yaml;
  for (const [key, value] of Object.entries(changes)) {
    yaml = setOne(yaml, key, value, fm.eol);
  }
  if (fm.present) return { ...fm, yaml };
  const open = `---${fm.eol}`;
  return { ...fm, present: true, open, yaml, close: `---${fm.eol}` };
}

function setOne(yaml: string, key: string, value: unknown, eol: string): string {
  const doc = parseDocument(yaml, { keepSourceTokens: false });
  if (doc.errors.length > 0) throw new Error(`cannot edit invalid frontmatter: ${doc.errors[0]?.message}`);
  const pair = topLevelPair(doc, key);
  const withEol = (s: string) => s.replace(/\r?\n/g, eol);
  if (!pair) {
    if (value === undefined) return yaml;
    const sep = yaml === '' || yaml.endsWith('\n') ? '' : eol;
    return `${yaml}${sep}${key}: ${withEol(yamlValue(value))}${eol}`;
  }
  const keyNode = pair.key as { range?: [number, number, number] };
  const valueNode = pair.value as { range?: [number, number, number] } | null;
  if (value === undefined) {
    const start = yaml.lastIndexOf('\n', (keyNode.range?.[0] ?? 0) - 1) + 1;
    const endOfValue = valueNode?.range?.[1] ?? keyNode.range?.[1] ?? start;
    const nextLine = yaml.indexOf('\n', Math.max(endOfValue - 1, start));
    return yaml.slice(0, start) + (nextLine === -1 ? '' : yaml.slice(nextLine + 1));
  }
  const rendered = withEol(yamlValue(value));
  if (valueNode?.range && !(isCollection(valueNode) && !valueNode.flow)) {
    const [start, end] = valueNode.range;
    // Block scalars own their final newline; an empty value starts right after the colon, or
    // right at a comment (`pipeline: # triage picks`), which must stay apart from the value.
    const keepEol = /\r?\n$/.exec(yaml.slice(start, end))?.[0] ?? '';
    const lead = yaml[start - 1] === ':' ? ' ' : '';
    const trail = start === end && yaml[end] === '#' ? ' ' : '';
    return yaml.slice(0, start) + lead + rendered + trail + keepEol + yaml.slice(end);
  }
  // A block list or map: replace from after `key:` to its end.
  const colon = yaml.indexOf(':', keyNode.range?.[1] ?? 0);
  const end = valueNode?.range?.[1] ?? colon + 1;
  const keepEol = /\r?\n$/.exec(yaml.slice(colon, end))?.[0] ?? '';
  return `${yaml.slice(0, colon + 1)} ${rendered}${keepEol}${yaml.slice(end)}`;
}
