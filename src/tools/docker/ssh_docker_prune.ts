import { z } from "zod";
import { ToolError } from "../../errors.ts";
import type { RawExecResult } from "../../ssh/exec.ts";
import { defineTool, HostArg } from "../define.ts";
import type { ToolContext } from "../context.ts";
import {
  done,
  finish,
  MutatingResult,
  planned,
  type Prefixes,
  preparePrefixes,
  runCli,
} from "./_cli.ts";
import { type DockerObject, parseJsonOutput, rowId, rowNames } from "./_parse.ts";
import { psRows } from "./_probe.ts";
import { CheckArg } from "./_validate.ts";

type Scope = "container" | "image" | "volume" | "network" | "system";

async function listJson(ctx: ToolContext, p: Prefixes, argv: string[]) {
  const raw = await runCli(ctx, p.docker, argv, { timeout: 60 });
  return { raw, rows: raw.exitCode === 0 ? parseJsonOutput(raw.stdout) : [] };
}

function imageName(o: DockerObject): string {
  const repo = typeof o.Repository === "string" ? o.Repository : "";
  const tag = typeof o.Tag === "string" ? o.Tag : "";
  const id = typeof o.ID === "string" ? o.ID : typeof o.Id === "string" ? o.Id : "";
  return repo && repo !== "<none>" ? `${repo}:${tag}` : id.slice(0, 19);
}

/** What a prune of `scope` would remove (read-only listings). */
async function prunePlan(ctx: ToolContext, p: Prefixes, scope: Scope, all: boolean) {
  const items: string[] = [];
  const notes: string[] = [];
  let last: RawExecResult | null = null;
  if (scope === "container" || scope === "system") {
    // no status=dead: Podman's API refuses it ("unknown container state")
    const r = await psRows(ctx, p, ["status=exited", "status=created"]);
    last = r.raw;
    items.push(...r.rows.map((o) => `container ${rowNames(o)[0] ?? rowId(o)}`));
  }
  if (scope === "image" || scope === "system") {
    if (all) {
      const imgs = await listJson(ctx, p, ["images", "--format", "{{json .}}"]);
      const used = await psRows(ctx, p, []);
      last = used.raw;
      const usedImages = new Set(used.rows.map((o) => String(o.Image ?? "")));
      for (const i of imgs.rows) {
        const n = imageName(i);
        if (!usedImages.has(n) && !usedImages.has(n.replace(/:latest$/, ""))) {
          items.push(`image ${n}`);
        }
      }
      notes.push("all_=true: every image without a container is removed (tagged ones too)");
    } else {
      const imgs = await listJson(ctx, p, [
        "images",
        "--filter",
        "dangling=true",
        "--format",
        "{{json .}}",
      ]);
      last = imgs.raw;
      items.push(...imgs.rows.map((i) => `image ${imageName(i)}`));
    }
  }
  if (scope === "network" || scope === "system") {
    const nets = await listJson(ctx, p, [
      "network",
      "ls",
      "--filter",
      "dangling=true",
      "--format",
      "{{json .}}",
    ]);
    last = nets.raw;
    for (const n of nets.rows) {
      const name = String(n.Name ?? n.name ?? "");
      if (name && !["bridge", "host", "none", "podman"].includes(name)) {
        items.push(`network ${name}`);
      }
    }
  }
  if (scope === "volume") {
    const vols = await listJson(ctx, p, [
      "volume",
      "ls",
      "--filter",
      "dangling=true",
      "--format",
      "{{json .}}",
    ]);
    last = vols.raw;
    items.push(...vols.rows.map((v) => `volume ${String(v.Name ?? v.name ?? "")}`));
    notes.push("volume prune deletes the data of every listed volume; it cannot be undone");
  }
  if (scope === "system") {
    notes.push("system prune also clears the build cache; volumes are never included");
  }
  return { last: last!, items, notes };
}

/** Remove unused objects of one kind (TOOLS.md §10.3, DOCKER-7). */
export default defineTool({
  name: "ssh_docker_prune",
  group: "docker",
  tier: "dangerous",
  hints: { idempotentHint: true },
  posixOnly: true,
  description: "Remove unused containers, images, networks or volumes (docker prune).",
  input: z.strictObject({
    host: HostArg,
    scope: z.enum(["container", "image", "volume", "network", "system"]).default("container")
      .describe(
        "What to prune",
      ),
    all_: z.boolean().default(false).describe(
      "--all",
    ),
    confirm_volume_prune: z.boolean().default(false).describe(
      "Required for scope=volume",
    ),
    check: CheckArg,
  }),
  output: MutatingResult,
  prepare(args, pctx) {
    if (args.scope === "volume" && !args.confirm_volume_prune && !args.check) {
      throw new ToolError(
        "ValueError",
        "scope=volume deletes the data of every unused volume for good; it needs confirm_volume_prune=true (or check=true to list them first). Runbooks never prune volumes on their own: ask a human.",
        { required: "confirm_volume_prune" },
      );
    }
    return preparePrefixes(args, pctx);
  },
  async handler({ scope, all_, check }, ctx, p) {
    const withAll = all_ && (scope === "image" || scope === "system");
    if (all_ && !withAll) ctx.warn(`all_ has no effect for scope=${scope}`);
    if (check) {
      const plan = await prunePlan(ctx, p, scope, withAll);
      return planned({ ...finish(ctx, plan.last), stdout: "", stdout_bytes: 0 }, {
        action: `${scope} prune${withAll ? " --all" : ""}`,
        changes: plan.items.length > 0,
        before: { count: plan.items.length },
        after: { count: 0 },
        items: plan.items,
        notes: plan.notes,
      });
    }
    const argv = [scope, "prune", "-f", ...(withAll ? ["--all"] : [])];
    const r = await runCli(ctx, p.docker, argv);
    return done(finish(ctx, r));
  },
});
