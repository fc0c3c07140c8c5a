import { z } from "zod";
import { sh } from "../../checked.ts";
import { valueError } from "../../errors.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import { randomHex } from "../../util/random.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { runRead } from "../_runner.ts";
import { parseAptPolicy, parseAptShow } from "./_parse.ts";
import { packageName } from "./_words.ts";

/**
 * `apt-cache show -- <pkg>` and `apt-cache policy -- <pkg>` (TOOLS.md §12), in
 * one round trip: the two outputs are separated by a per-call nonce line that
 * carries show's exit status.
 */
export default defineTool({
  name: "ssh_apt_show",
  group: "pkg",
  tier: "read",
  posixOnly: true,
  description: "Details of a package: versions, repositories, dependencies.",
  input: z.strictObject({
    host: HostArg,
    package: z.string().max(128).describe("Debian package name (R_PKG)"),
  }),
  output: z.strictObject({
    host: z.string(),
    package: z.string(),
    installed_version: z.string().nullable().describe("(none) when not installed"),
    candidate_version: z.string().nullable(),
    repos: z.array(z.string()),
    description: z.string().nullable(),
    depends: z.array(z.string()),
    recommends: z.array(z.string()),
    suggests: z.array(z.string()),
    conflicts: z.array(z.string()),
    breaks: z.array(z.string()),
    replaces: z.array(z.string()),
    output_warnings: OutputWarnings,
  }),
  auditHash: { package_hash: "package" },
  prepare: (args) => ({ pkg: packageName(args.package) }),
  async handler(_args, ctx, { pkg }) {
    const mark = `__SSHMCP_POLICY_${randomHex(8)}__`;
    const r = await runRead(
      ctx,
      "apt",
      sh`apt-cache show -- ${pkg}; printf '\\n%s %s\\n' ${mark} "$?"; apt-cache policy -- ${pkg}`,
    );
    ctx.audit({ exit_code: r.exitCode, timed_out: r.timedOut });
    const at = r.stdout.lastIndexOf(`\n${mark} `);
    const showRaw = at >= 0 ? r.stdout.slice(0, at) : r.stdout;
    const rest = at >= 0 ? r.stdout.slice(at + mark.length + 2) : "";
    const nl = rest.indexOf("\n");
    const showExit = Number(nl >= 0 ? rest.slice(0, nl) : rest);
    const policyRaw = nl >= 0 ? rest.slice(nl + 1) : "";
    if (at < 0 || showExit !== 0) {
      throw valueError(
        `package: ${JSON.stringify(pkg)} is not known to apt on ${ctx.host.policy.alias} ` +
          `(${sanitize(r.stderr).text.trim().slice(0, 200) || "apt-cache show found nothing"}); ` +
          "check the name with ssh_apt_search, or refresh the index with ssh_apt_update",
        { parameter: "package" },
      );
    }
    const show = sanitize(showRaw);
    const policy = sanitize(policyRaw);
    const stanza = parseAptShow(show.text);
    const pol = parseAptPolicy(policy.text);
    return {
      host: ctx.host.policy.hostname,
      package: pkg,
      installed_version: pol.installed_version,
      candidate_version: pol.candidate_version,
      repos: pol.repos,
      description: stanza.description,
      depends: stanza.relations.Depends,
      recommends: stanza.relations.Recommends,
      suggests: stanza.relations.Suggests,
      conflicts: stanza.relations.Conflicts,
      breaks: stanza.relations.Breaks,
      replaces: stanza.relations.Replaces,
      output_warnings: mergeWarnings(show.warnings, policy.warnings),
    };
  },
});
