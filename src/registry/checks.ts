/**
 * The command and path gates, shared by the pipeline's declared fields and
 * the context's checks of computed values (fan-out targets, backup names,
 * walked entries). Each writes its `policy_decision` audit line and turns the
 * caller's text into a checked value only when the policy admits it.
 *
 * @module
 */

import type { CheckedCommand, CheckedPath } from "../checked.ts";
import { auditHash, commandHash } from "../audit/audit.ts";
import type { HostPolicy } from "../config/types.ts";
import { isToolError } from "../errors.ts";
import type { CommandChecker, CommandCheckRequest } from "../policy/commands.ts";
import type { PathChecker, PathIo, SubtreeListing, SubtreeNeeds } from "../policy/paths.ts";
import type { CheckCommandOptions, CheckPathOptions } from "../tools/context.ts";
import type { CallRecord } from "./audit.ts";

function request(
  rec: CallRecord,
  policy: HostPolicy,
  raw: string,
  kind: "command" | "script",
): CommandCheckRequest {
  // the cheatsheet names the exact call (with the host as the caller wrote it) and never a
  // tool this configuration hides (CHEAT-9, CHEAT-18)
  const host = policy === rec.primary?.policy ? rec.hostArg : policy.alias;
  return { tool: rec.tool.name, policy, command: raw, kind, host, visibleTools: rec.visibleTools };
}

/**
 * The last command hashed for each call: the cheatsheet and the command gate
 * see the same text of one call, and its redaction plus SHA-256 is the
 * costliest step of both (issue 17: per-call overhead).
 */
const hashed = new WeakMap<CallRecord, { raw: string; kind: string; hash: string }>();

function hashOf(rec: CallRecord, raw: string, kind: "command" | "script"): string {
  const last = hashed.get(rec);
  if (last && last.raw === raw && last.kind === kind) return last.hash;
  const hash = kind === "script" ? auditHash(raw) : commandHash(raw);
  hashed.set(rec, { raw, kind, hash });
  return hash;
}

/** Records the command's hash (or the script's length and hash) in the audit line. */
function recordCommand(rec: CallRecord, raw: string, kind: "command" | "script"): string | null {
  if (kind === "script") {
    rec.fields.script_len = raw.length;
    rec.fields.script_hash = hashOf(rec, raw, kind);
    return null;
  }
  const hash = hashOf(rec, raw, kind);
  rec.fields.command_hash = hash;
  return hash;
}

/**
 * CHEAT-1..3: a match refuses the call (a `policy_decision` line replaces the
 * tool's audit line) unless the opt-out is set, which turns it into a warning.
 */
export async function cheatsheetGate(
  rec: CallRecord,
  commands: CommandChecker,
  policy: HostPolicy,
  raw: string,
  kind: "command" | "script",
): Promise<void> {
  const hash = recordCommand(rec, raw, kind);
  try {
    const hit = commands.cheatsheet(request(rec, policy, raw, kind));
    if (hit.warning) rec.warn(hit.warning);
    if (hit.patternId) rec.fields.cheatsheet_pattern_id = hit.patternId;
  } catch (e) {
    if (isToolError(e, "CommandIsCheatsheetMatch")) {
      rec.suppressed = true;
      await rec.policyDecision(policy, {
        decision: "cheatsheet",
        reason: "cheatsheet",
        rule: typeof e.attributes.pattern_id === "string" ? e.attributes.pattern_id : null,
        ...(hash ? { command_hash: hash } : {}),
      });
    }
    throw e;
  }
}

/** EXEC-*, SCRIPT-*: the command policy, with one `policy_decision` line either way. */
export async function commandGate(
  rec: CallRecord,
  commands: CommandChecker,
  policy: HostPolicy,
  raw: string,
  kind: "command" | "script",
): Promise<CheckedCommand> {
  const hash = recordCommand(rec, raw, kind);
  try {
    const r = commands.admit(request(rec, policy, raw, kind));
    await rec.policyDecision(policy, {
      decision: "allow",
      reason: r.decision.reason,
      rule: r.decision.rule,
      ...(hash ? { command_hash: hash } : {}),
    });
    return r.command;
  } catch (e) {
    if (isToolError(e)) {
      await rec.policyDecision(policy, {
        decision: "deny",
        reason: typeof e.attributes.reason === "string" ? e.attributes.reason : e.code,
        rule: typeof e.attributes.rule === "string" ? e.attributes.rule : null,
        ...(hash ? { command_hash: hash } : {}),
      });
    }
    throw e;
  }
}

/** Cheatsheet (when asked) then command policy, for a command that is not a declared field. */
export async function checkCommandOn(
  rec: CallRecord,
  commands: CommandChecker,
  policy: HostPolicy,
  raw: string,
  opts: CheckCommandOptions,
): Promise<CheckedCommand> {
  if (opts.cheatsheet) await cheatsheetGate(rec, commands, policy, raw, opts.kind);
  return await commandGate(rec, commands, policy, raw, opts.kind);
}

/**
 * The §PATH chain for one path on `policy` through `io`: the audit hash of
 * the canonical path, warnings and the redact-bypass flag on success, a
 * `policy_decision` line on refusal.
 */
export async function pathGate(
  rec: CallRecord,
  paths: PathChecker,
  policy: HostPolicy,
  raw: string,
  opts: CheckPathOptions,
  io: PathIo,
): Promise<CheckedPath> {
  try {
    const r = await paths.check({
      tool: rec.tool.name,
      policy,
      raw,
      mustExist: opts.mustExist,
      redactGate: opts.redactGate !== false,
      follow: opts.follow !== false,
      lexical: opts.lexical === true,
      io,
    });
    for (const w of r.warnings) rec.warn(w);
    if (r.redactBypass) rec.fields.redact_bypass = true;
    const key = opts.audit === undefined ? "path_hash" : opts.audit;
    if (key !== null) rec.fields[key] = auditHash(r.path);
    return r.path;
  } catch (e) {
    if (isToolError(e)) {
      await rec.policyDecision(policy, {
        decision: "deny",
        reason: e.code,
        rule: typeof e.attributes.rule === "string" ? e.attributes.rule : null,
        path_hash: auditHash(raw),
      });
    }
    throw e;
  }
}

/** What a subtree gate needs besides the path: where the tree is and how to list it. */
export interface SubtreeGate {
  /** true: the listed tree lands at the checked path (a move, copy or transfer destination) */
  lands: boolean;
  /** lists the subtree on its host (capped walk) */
  list(needs: SubtreeNeeds): Promise<SubtreeListing>;
}

/**
 * PATH-33..PATH-36, PATH-42: the whole-subtree check of an admitted path,
 * with a `policy_decision` line on refusal and its warnings and redact flag
 * on the call.
 */
export async function subtreeGate(
  rec: CallRecord,
  paths: PathChecker,
  policy: HostPolicy,
  root: CheckedPath,
  redactGate: boolean,
  gate: SubtreeGate,
  io: PathIo,
): Promise<void> {
  try {
    const r = await paths.checkSubtree({
      tool: rec.tool.name,
      policy,
      root,
      redactGate,
      lands: gate.lands,
      list: gate.list,
      io,
    });
    for (const w of r.warnings) rec.warn(w);
    if (r.redactBypass) rec.fields.redact_bypass = true;
  } catch (e) {
    if (isToolError(e)) {
      await rec.policyDecision(policy, {
        decision: "deny",
        reason: e.code,
        rule: typeof e.attributes.rule === "string" ? e.attributes.rule : null,
        path_hash: auditHash(root),
      });
    }
    throw e;
  }
}
