import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { parseDf, parseLoad1, parseMeminfo } from "./_parse.ts";
import { multiProbe } from "./_probe.ts";

const Breach = z.strictObject({
  metric: z.enum(["disk_use_percent", "load_avg_1min", "mem_free_percent"]),
  threshold: z.number(),
  current: z.number(),
  severity: z.literal("warning"),
  detail: z.string(),
});

/** Compares live metrics with the host's `[hosts.X.alerts]` thresholds. */
export default defineTool({
  name: "ssh_host_alerts",
  group: "host",
  tier: "read",
  posixOnly: true,
  description: "Check disk, load and memory against the host's alert thresholds.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    host: z.string(),
    breaches: z.array(Breach),
    metrics: z.strictObject({
      disk_entries: z.array(z.strictObject({ mount: z.string(), use_percent: z.number() }))
        .optional(),
      load_avg_1min: z.number().optional(),
      mem_free_percent: z.number().optional(),
    }),
  }),
  async handler(_args, ctx) {
    const a = ctx.host.policy.alerts;
    const wanted = [
      a.disk_use_percent_max !== null ? sh`df -PTh` : null,
      a.load_avg_1min_max !== null ? sh`cat /proc/loadavg` : null,
      a.mem_free_percent_min !== null ? sh`cat /proc/meminfo` : null,
    ];
    const probes = wanted.filter((w) => w !== null);
    const results = probes.length ? await multiProbe(ctx, probes) : [];
    let next = 0;
    // df exits 1 when one filesystem is unreadable but still lists the others
    const [df, loadavg, meminfo] = wanted.map((w) =>
      w === null ? "" : results[next++]?.stdout ?? ""
    ) as [string, string, string];
    const breaches: z.infer<typeof Breach>[] = [];
    const metrics: {
      disk_entries?: { mount: string; use_percent: number }[];
      load_avg_1min?: number;
      mem_free_percent?: number;
    } = {};
    if (a.disk_use_percent_max !== null) {
      const max = a.disk_use_percent_max;
      metrics.disk_entries = [];
      for (const e of parseDf(df)) {
        const pct = Number(e.use_percent.replace(/%$/, ""));
        if (!Number.isFinite(pct) || e.use_percent.trim() === "" || e.use_percent === "-") continue;
        if (a.disk_mounts.length && !a.disk_mounts.includes(e.mount)) continue;
        metrics.disk_entries.push({ mount: e.mount, use_percent: pct });
        if (pct > max) {
          breaches.push({
            metric: "disk_use_percent",
            threshold: max,
            current: pct,
            severity: "warning",
            detail: `mount=${e.mount}`,
          });
        }
      }
    }
    if (a.load_avg_1min_max !== null) {
      const load = parseLoad1(loadavg);
      if (load !== null) {
        metrics.load_avg_1min = load;
        if (load > a.load_avg_1min_max) {
          breaches.push({
            metric: "load_avg_1min",
            threshold: a.load_avg_1min_max,
            current: load,
            severity: "warning",
            detail: `load1=${load}`,
          });
        }
      }
    }
    if (a.mem_free_percent_min !== null) {
      const m = parseMeminfo(meminfo);
      const total = m.MemTotal ?? 0;
      const avail = m.MemAvailable;
      if (total > 0 && avail !== undefined && avail <= total) {
        const free = Math.round((avail / total) * 100 * 100) / 100;
        metrics.mem_free_percent = free;
        if (free < a.mem_free_percent_min) {
          breaches.push({
            metric: "mem_free_percent",
            threshold: a.mem_free_percent_min,
            current: free,
            severity: "warning",
            detail: `free=${avail}kB total=${total}kB`,
          });
        }
      }
    }
    return { host: ctx.host.policy.hostname, breaches, metrics };
  },
});
