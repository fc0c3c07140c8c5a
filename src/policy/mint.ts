/**
 * The only place that turns text into a {@link CheckedPath} or a
 * {@link CheckedCommand}. Imported by the path and command checkers (after
 * the policy admitted the value) and by tests; the structure tests refuse any
 * other importer under `src/`.
 *
 * @module
 */

import type { CheckedCommand, CheckedPath } from "../checked.ts";

/** Brands a canonical path the path policy admitted. */
export function mintPath(canonical: string): CheckedPath {
  return canonical as CheckedPath;
}

/** Brands a command string the command policy admitted. */
export function admitCommand(command: string): CheckedCommand {
  return command as CheckedCommand;
}
