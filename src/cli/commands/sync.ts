// `tend sync [REMOTE]`: one pull and push by hand (src/engine/sync.ts).
import { droppedNote, RemoteBusy, RemoteUnreachable, syncByHand } from '../../engine/sync.js';
import { paint, printJson } from '../output.js';

export async function syncCommand(cwd: string, remote: string | undefined, json: boolean): Promise<number> {
  try {
    const report = await syncByHand(cwd, remote);
    // On stderr, --json or not: work taken out of the branch is said, whatever reads stdout.
    const err = paint(process.stderr);
    for (const d of report.dropped)
      process.stderr.write(`${err('yellow', 'warning')}: ${droppedNote(d, report.remote)}\n`);
    if (json) {
      printJson({ version: 1, ...report });
      return 0;
    }
    for (const r of report.renamed) {
      process.stdout.write(`renamed ${r.from} -> ${r.to}: ${report.remote} has another item with that id\n`);
      if (r.note) process.stderr.write(`tend: warning: ${r.note}\n`);
    }
    process.stdout.write(`synced with ${report.remote}: ${report.pulled} commit(s) in, ${report.pushed} out\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof RemoteUnreachable || err instanceof RemoteBusy)) throw err;
    // Offline (or outpaced) is not lost work: the commits stay here and the next sync pushes them.
    process.stderr.write(
      `tend: ${err.message}\n  your commits are kept in this clone; run \`tend sync\` again later\n`,
    );
    return 1;
  }
}
