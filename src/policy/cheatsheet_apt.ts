/**
 * apt in the cheatsheet (CHEAT-17): `apt` / `apt-get install|remove|purge|
 * upgrade|autoremove|update` and `apt-mark hold|unhold` -> the exact call of
 * the pkg tools (TOOLS.md §12): `packages`, `purge`, `action`, and
 * `check=true` for a simulation (`-s`).
 *
 * @module
 */

import {
  CallBuilder,
  type LeadWords,
  OptReader,
  scanOptions,
  type Suggestion,
  toolOnly,
} from "./cheatsheet_call.ts";

const VALUE = [
  "-o",
  "--option",
  "-t",
  "--target-release",
  "--default-release",
  "-c",
  "--config-file",
  "-a",
  "--host-architecture",
];
const SIMULATE = ["-s", "--simulate", "--dry-run", "--just-print", "--no-act", "--recon"];
const QUIET = ["-y", "--yes", "--assume-yes", "-q", "--quiet"];
const FLAG = [
  ...SIMULATE,
  ...QUIET,
  "--purge",
  "--reinstall",
  "--no-install-recommends",
  "--install-recommends",
  "--install-suggests",
  "--no-install-suggests",
  "-f",
  "--fix-broken",
  "-m",
  "--fix-missing",
  "--ignore-missing",
  "--no-upgrade",
  "--only-upgrade",
  "-d",
  "--download-only",
  "--allow-downgrades",
  "--allow-remove-essential",
  "--allow-change-held-packages",
  "--allow-unauthenticated",
  "--auto-remove",
  "--autoremove",
  "-V",
  "--verbose-versions",
  "--with-new-pkgs",
  "--no-download",
  "--force-yes",
  "-u",
  "--show-upgraded",
  "--assume-no",
  "--mark-auto",
];

/** The pkg tool of a verb (`apt-mark` verbs: hold, unhold). */
export function aptTool(program: string, verb: string): string {
  if (program === "apt-mark") return "ssh_apt_mark";
  return verb === "purge" ? "ssh_apt_remove" : `ssh_apt_${verb}`;
}

function packages(b: CallBuilder, pos: string[]): void {
  if (pos.length) b.set("packages", pos);
  else b.note("packages= needs at least one package (the command named none)");
}

/** CHEAT-17: the call for `<program> <verb> [opts] [packages]`. */
export function aptSuggestion(lead: LeadWords | null, program: string, verb: string): Suggestion {
  const tool = aptTool(program, verb);
  if (!lead || lead.texts[0] !== program || lead.values[1] !== verb) return toolOnly(tool);
  const b = new CallBuilder(tool);
  const s = scanOptions(lead.values.slice(2), { value: VALUE, flag: FLAG });
  if (s.ambiguous) b.inexact();
  const r = new OptReader(s, QUIET);
  const purge = verb === "purge" || (verb === "remove" && r.has("--purge"));
  switch (verb) {
    case "hold":
    case "unhold":
      b.set("action", verb);
      packages(b, s.pos);
      break;
    case "install":
    case "remove":
    case "purge":
      packages(b, s.pos);
      if (purge) b.set("purge", true);
      break;
    default:
      if (s.pos.length === 0) break;
      if (verb === "upgrade") {
        b.note(
          `ssh_apt_upgrade upgrades every package; for only ${
            s.pos.join(", ")
          } use ssh_apt_install with packages=[...]`,
          ["ssh_apt_install"],
        );
      } else b.note(`not carried over: ${s.pos.join(" ")}`);
  }
  if (r.has(...SIMULATE)) b.set("check", true);
  r.noteLeftovers(b);
  return b.done();
}
