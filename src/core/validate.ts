// Checks an item can only fail against the configuration: a pipeline that does not exist, or
// a phase folder its pipeline does not have. Pure; such items are listed as invalid, untouched.
import type { Config } from './config.js';
import { readYaml } from './frontmatter.js';
import type { Problem } from './problem.js';
import { BLOCKED, DONE, INBOX, type Item, type Snapshot } from './backlog.js';

/** How an item fails against the configuration (at most one way), or undefined. */
function configProblem(item: Item, config: Config): Problem | undefined {
  // The line of `pipeline:` when the item names one (undefined when it follows the default).
  const line = () => readYaml(item.parsed.frontmatter).keyLines.get('pipeline');
  const name = item.fields.pipeline;
  const pipeline = config.pipelines.get(name ?? config.settings.default_pipeline);
  if (name !== undefined && !pipeline) {
    return {
      file: item.file,
      line: line(),
      key: 'pipeline',
      message: `no pipeline named ${JSON.stringify(name)}`,
      fix: `use one of ${[...config.pipelines.keys()].join(', ')}, or remove the key to let triage choose`,
    };
  }
  if (!pipeline || [INBOX, DONE, BLOCKED].includes(item.location)) return undefined;
  if (pipeline.phases.some((p) => p.name === item.location)) return undefined;
  const folders = pipeline.phases.map((p) => `backlog/${p.name}/`).join(', ');
  return {
    file: item.file,
    line: line(),
    key: 'pipeline',
    message: `the item sits in backlog/${item.location}/ but pipeline ${pipeline.name} has no phase ${item.location}`,
    fix: `move the folder to one of ${folders}, or change pipeline:`,
  };
}

export function checkAgainstConfig(snapshot: Snapshot, config: Config): Snapshot {
  if (config.pipelines.size === 0) return snapshot;
  const invalid = [...snapshot.invalid];
  const items = snapshot.items.filter((item) => {
    const problem = configProblem(item, config);
    if (!problem) return true;
    invalid.push({ path: item.file, id: item.id, location: item.location, problems: [problem] });
    return false;
  });
  return { ...snapshot, items, invalid };
}
