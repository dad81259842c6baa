// What a person does on the board, each through the code the CLI runs for the same thing: add is
// `tend add`, approve/reject/retry are `tend approve`/`reject`/`retry`, and an edit of the
// priority or the text is committed by the engine's writer as a hand edit would be. Every action
// on an item names the version of it the page showed; an item changed since is a conflict.
import { add } from '../cli/commands/add.js';
import { approve, reject, retry } from '../cli/commands/item-actions.js';
import { TendError } from '../core/problem.js';
import { isValidId } from '../core/slug.js';
import { findById, openRepo } from '../edges/repo.js';
import { openForAction } from '../engine/actions.js';
import { editItem } from '../engine/edit-item.js';
import { versionOf } from './data.js';

/** The item changed on disk since the page that asks showed it. */
export class Conflict extends Error {}

export type ItemAction =
  | { kind: 'approve' }
  | { kind: 'reject'; reason: string; block?: boolean }
  | { kind: 'retry' }
  | { kind: 'edit'; priority?: number; body?: string };

export interface AddRequest {
  title: string;
  body?: string;
  priority?: number;
  labels?: string[];
  pipeline?: string;
}

// One action at a time: the version check and the commit after it must not interleave.
let queue: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const next = queue.then(work, work);
  queue = next.catch(() => undefined);
  return next;
}

export function addItem(cwd: string, request: AddRequest): Promise<string> {
  return oneAtATime(async () => {
    const result = await add(await openRepo(cwd), { ...request, dependsOn: [] });
    return `added ${result.id} (${result.file})`;
  });
}

/** Carry out `action` on item `id`, if it is still as the page (`seen`) showed it. */
export function actOnItem(cwd: string, id: string, seen: string, action: ItemAction): Promise<string> {
  if (!isValidId(id)) return Promise.reject(new TendError(`not an item id: ${JSON.stringify(id)}`));
  return oneAtATime(async () => {
    const repo = await openForAction(cwd, id);
    const { item } = await findById(repo, id);
    if (!item) throw new Conflict(`${id} is no longer on the board as you saw it (it is gone or invalid now)`);
    const now = versionOf(item);
    if (now !== seen) {
      const where = `now in ${item.location}/, status ${item.fields.status}, priority ${item.fields.priority}`;
      throw new Conflict(`${id} changed since this page showed it (${where}); nothing was done, reload to see it`);
    }
    switch (action.kind) {
      case 'approve':
        return approve(repo, id);
      case 'reject':
        if (!action.reason.trim()) throw new TendError('a rejection needs a reason', 'say what must change');
        return reject(repo, id, action.reason, action.block ?? false);
      case 'retry':
        return retry(repo, id);
      case 'edit':
        return editItem(repo, item, { priority: action.priority, body: action.body }, 'on the board');
    }
  });
}
