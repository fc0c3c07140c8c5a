import { z } from "zod";
import { sanitize } from "../../policy/sanitize.ts";
import { sh } from "../../checked.ts";
import { parseSudoList, runsRootShell } from "../../sudo/capabilities.ts";
import { OutputWarnings } from "../_schemas.ts";
import { defineTool, HostArg } from "../define.ts";

const Rule = z.strictObject({
  runas_users: z.array(z.string()),
  runas_groups: z.array(z.string()),
  command: z.string(),
  nopasswd: z.boolean(),
  tags: z.array(z.string()),
  options: z.array(z.string()),
});

const Output = z.strictObject({
  host: z.string(),
  method: z.enum(["sudo", "doas"]),
  can_elevate: z.boolean().describe("The login user may run commands as root through ssh-mcp"),
  password_required: z.enum(["never", "always", "unknown"]).describe(
    "Whether sudo asks for the password for ssh-mcp's root shell (the last matching rule decides)",
  ),
  password_configured: z.boolean().describe("A sudo password source produced a password"),
  rules: z.array(Rule),
  defaults: z.array(z.string()),
  cached: z.boolean(),
  fetched_at: z.string().describe("ISO-8601 time of the probe"),
  exit_code: z.number().int(),
  stderr: z.string(),
  hint: z.string().nullable(),
  output_warnings: OutputWarnings,
});
type Caps = z.output<typeof Output>;

const NO_SHELL_HINT =
  "sudoers lets this user run only specific commands. ssh-mcp runs every elevated operation as `sh -c <script>`, so the sudo tools need a rule for ALL or /bin/sh (see the README section on sudo).";

/** What the login user may run as root (`sudo -l`), cached per host. */
export default defineTool({
  name: "ssh_sudo_capabilities",
  group: "sudo",
  tier: "sudo",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  description: "What the SSH user may run as root (sudo -l); call before sudo tools.",
  input: z.strictObject({
    host: HostArg,
    refresh: z.boolean().default(false).describe("Skip cache"),
  }),
  output: Output,
  posixOnly: true,
  async handler({ refresh }, ctx) {
    const policy = ctx.host.policy;
    const cache = ctx.sudoCapabilities;
    const hit = cache.get<Caps>(policy.alias);
    if (hit && !refresh) return { ...hit.value, cached: true };
    const el = await ctx.elevation();
    const fetchedAt = new Date().toISOString();
    let caps: Caps;
    if (el.method === "doas") {
      // doas cannot list its rules; probe whether a root shell starts without a password
      const r = await el.run({ kind: "shell", inner: sh`true` });
      caps = {
        host: policy.hostname,
        method: "doas",
        can_elevate: r.started && r.exitCode === 0,
        password_required: r.started ? "never" : "unknown",
        password_configured: el.hasPassword,
        rules: [],
        defaults: [],
        cached: false,
        fetched_at: fetchedAt,
        exit_code: r.exitCode,
        stderr: sanitize(r.stderr).text,
        hint: r.hint,
        output_warnings: ["doas cannot list its rules; only a `doas -n sh` probe was run"],
      };
    } else {
      const r = await el.run({ kind: "list" });
      const listing = r.exitCode === 0 ? parseSudoList(r.stdout) : { rules: [], defaults: [] };
      // sudoers: the last matching entry decides; ssh-mcp always runs `sh -c`
      const shell = listing.rules.filter(runsRootShell).at(-1);
      caps = {
        host: policy.hostname,
        method: "sudo",
        can_elevate: shell !== undefined,
        password_required: shell === undefined ? "unknown" : shell.nopasswd ? "never" : "always",
        password_configured: el.hasPassword,
        rules: listing.rules,
        defaults: listing.defaults,
        cached: false,
        fetched_at: fetchedAt,
        exit_code: r.exitCode,
        stderr: sanitize(r.stderr).text,
        hint: r.hint ?? (r.exitCode === 0 && shell === undefined ? NO_SHELL_HINT : null),
        output_warnings: sanitize(r.stdout).warnings,
      };
    }
    if (caps.exit_code === 0) cache.set(policy.alias, { value: caps, fetchedAt: Date.now() });
    return caps;
  },
});
