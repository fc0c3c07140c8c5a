import type { RawExecResult } from "../../ssh/exec.ts";
import { sanitize } from "../../policy/sanitize.ts";
import { linkTruncated, withCapture } from "../_outputs.ts";
import { type ExecResultT, finishExec } from "../exec_result.ts";
import type { CtxExecOptions, ToolContext } from "../context.ts";
import type { RemoteCommand } from "../../checked.ts";

/**
 * Runs one exec on `ctx.host` and ends it like {@link finishExec}; when a
 * stream was truncated at its inline cap and the client follows resource
 * links, the full sanitized stream is offered as a `resource_link` (issue 12
 * item 3) and an output warning names it. The inline fields are unchanged.
 */
export async function execWithLinks(
  ctx: ToolContext,
  cmd: RemoteCommand,
  opts: CtxExecOptions,
): Promise<ExecResultT> {
  const { ctx: c, capture } = withCapture(ctx);
  const r: RawExecResult = await c.exec(cmd, opts);
  const res = finishExec(ctx, r);
  const notes = (["stdout", "stderr"] as const).map((s) =>
    linkTruncated(
      ctx,
      capture,
      s,
      s === "stdout" ? r.stdoutTruncated : r.stderrTruncated,
      (t) => sanitize(t).text,
    )
  ).filter((w): w is string => w !== null);
  if (notes.length) res.output_warnings = [...res.output_warnings, ...notes];
  return res;
}
