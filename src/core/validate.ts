// Checks an item can only fail against the configuration: a pipeline that does not exist, or
// a phase folder its pipeline does not have. Pure; such items are listed as invalid, untouched.
import type { Config } from './config.js';
import { readYaml } from './frontmatter.js';
import type { Problem } from './problem.js';
import { BLOCKED, DONE, INBOX, type Snapshot } from './backlog.js';

export function checkAgainstConfig(snapshot: Snapshot, config: Config): Snapshot {
  const names = [...config.pipelines.keys()];
  if (names.length === 0) return snapshot;
  const invalid = [...snapshot.invalid];
  const items = snapshot.items.filter((item) => {
    const problems: Problem[] = [];
    // The line of `pipeline:` when the item names one (undefined when it follows the default).
    const line = () => readYaml(item.parsed.frontmatter).keyLines.get('pipeline');
    const name = item.fields.pipeline;
    const pipeline = config.pipelines.get(name ?? config.settings.default_pipeline);
    if (name !== undefined && !pipeline) {
      problems.push({
        file: item.file,
        line: line(),
        key: 'pipeline',
        message: `no pipeline named ${JSON.stringify(name)}`,
        fix: `use one of ${names.join(', ')}, or remove the key to let triage choose`,
      });
    } else if (
      pipeline &&
      ![INBOX, DONE, BLOCKED].includes(item.location) &&
      !pipeline.phases.some((p) => p.name === item.location)
    ) {
      problems.push({
        file: item.file,
        line: line(),
        key: 'pipeline',
        message: `the item sits in backlog/${item.location}/ but pipeline ${pipeline.name} has no phase ${item.location}`,
        fix: `move the folder to one of ${pipeline.phases.map((p) => `backlog/${p.name}/`).join(', ')}, or change pipeline:`,
      });
    }
    if (problems.length === 0) return true;
    invalid.push({ path: item.file, id: item.id, location: item.location, problems });
    return false;
  });
  return { items, invalid };
}
