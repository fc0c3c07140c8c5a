/**
 * Groups hosts whose command produced identical output, so a result over a
 * large fleet stays readable: 200 hosts printing the same `uptime` line
 * appear once with 200 aliases.
 *
 * @module
 */

/** The part of a host result that decides identity. */
export interface GroupableOutput {
  exit_code: number;
  timed_out: boolean;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
}

/** One set of hosts with identical output. */
export interface OutputGroup extends GroupableOutput {
  hosts: string[];
  count: number;
}

/**
 * Groups `results` (alias -> output) by exit code, timeout flag, stdout and
 * stderr. Groups are ordered by size (largest first), then by first
 * appearance; hosts inside a group keep the input order. Returns the groups
 * and each alias's group index.
 */
export function groupOutputs(
  results: ReadonlyMap<string, GroupableOutput>,
): { groups: OutputGroup[]; indexOf: Map<string, number> } {
  const byKey = new Map<string, OutputGroup & { first: number }>();
  let n = 0;
  for (const [alias, r] of results) {
    const key = JSON.stringify([r.exit_code, r.timed_out, r.stdout, r.stderr]);
    let g = byKey.get(key);
    if (!g) {
      g = {
        hosts: [],
        count: 0,
        exit_code: r.exit_code,
        timed_out: r.timed_out,
        stdout: r.stdout,
        stderr: r.stderr,
        stdout_truncated: r.stdout_truncated,
        stderr_truncated: r.stderr_truncated,
        first: n,
      };
      byKey.set(key, g);
    }
    g.hosts.push(alias);
    g.count++;
    g.stdout_truncated ||= r.stdout_truncated;
    g.stderr_truncated ||= r.stderr_truncated;
    n++;
  }
  const sorted = [...byKey.values()].sort((a, b) => b.count - a.count || a.first - b.first);
  const indexOf = new Map<string, number>();
  const groups = sorted.map(({ first: _first, ...g }, i) => {
    for (const h of g.hosts) indexOf.set(h, i);
    return g;
  });
  return { groups, indexOf };
}
