import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { redactionOptions } from "../../policy/redact.ts";
import { mergeWarnings } from "../../policy/sanitize.ts";
import { defineTool, HostArg } from "../define.ts";
import { EXEC_RESULT_FIELDS } from "../exec_result.ts";
import { DockerObjects, finish, preparePrefixes, runCli } from "./_cli.ts";
import { maskEnv, ndjson, parseSanitized } from "./_parse.ts";
import { R_DOCKER_NAME, R_IMAGE } from "./_validate.ts";

/** Low-level object metadata with secret env values masked (TOOLS.md §10.1, DOCKER-9). */
export default defineTool({
  name: "ssh_docker_inspect",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description: "Inspect a container, image, network or volume; secret-looking env values masked.",
  input: z.strictObject({
    host: HostArg,
    target: z.string().min(1).max(255).describe(
      "Object name or id",
    ),
    kind: z.enum(["container", "image", "network", "volume"]).default("container").describe(
      "Object type of target",
    ),
    include_env: z.boolean().default(false).describe(
      "Unmask Config.Env",
    ),
  }),
  output: z.strictObject({
    ...EXEC_RESULT_FIELDS,
    objects: DockerObjects.describe("Parsed inspect array (empty when the lookup failed)"),
    env_masked: z.number().int().describe("Environment values replaced by <redacted>"),
  }),
  prepare(args, pctx) {
    const ok = args.kind === "image" ? R_IMAGE.test(args.target) : R_DOCKER_NAME.test(args.target);
    if (!ok) {
      throw new ToolError(
        "ValueError",
        `target ${JSON.stringify(args.target)} is not a valid ${args.kind} ${
          args.kind === "image" ? "reference (R_IMAGE)" : "name (R_DOCKER_NAME)"
        }.`,
      );
    }
    if (args.include_env && !pctx.settings.ALLOW_DANGEROUS_TOOLS) {
      throw new ToolError(
        "ValueError",
        "include_env=true returns secret environment values and needs the dangerous tier (ALLOW_DANGEROUS_TOOLS=true); call without it to get masked values.",
      );
    }
    return preparePrefixes(args, pctx);
  },
  async handler({ target, kind, include_env }, ctx, p) {
    const r = await runCli(ctx, p.docker, ["inspect", "--type", kind, "--", target]);
    const res = finish(ctx, r);
    if (r.exitCode !== 0) return { ...res, objects: [], env_masked: 0 };
    const parsed = parseSanitized(r.stdout);
    let objects = parsed.objects;
    let masked = 0;
    if (!include_env) {
      const m = maskEnv(objects, redactionOptions(ctx.host.policy, ctx.settings).keys);
      objects = m.objects;
      masked = m.masked;
    }
    const warnings = [...parsed.warnings];
    if (masked) {
      warnings.push(`${masked} secret environment value(s) masked (include_env=true shows them)`);
    }
    // stdout mirrors the (masked) objects so no secret leaves through the raw text
    const text = include_env ? res.stdout : ndjson(objects);
    return {
      ...res,
      stdout: text,
      stdout_bytes: include_env ? res.stdout_bytes : new TextEncoder().encode(text).length,
      output_warnings: mergeWarnings(res.output_warnings, warnings),
      objects,
      env_masked: masked,
    };
  },
});
