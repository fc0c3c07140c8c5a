/**
 * Validation of the sudo write arguments (SUDO-10, PATH-27), all before I/O.
 *
 * @module
 */

import { z } from "zod";
import { R_USERNAME } from "../_schemas.ts";

/** `chown_user` / `chown_group`: R_USERNAME or a decimal id (AC-617). */
export function ownerArg(what: "user" | "group"): z.ZodOptional<z.ZodNullable<z.ZodString>> {
  return z.string().max(32).refine((v) => R_USERNAME.test(v) || /^[0-9]{1,10}$/.test(v), {
    message: `must be a ${what} name matching ^[a-z_][a-z0-9_-]{0,31}\\$?$ or a decimal id`,
  }).nullish().describe(
    `Owner ${what}`,
  );
}

/** `mode`: integer 0..0o7777 (setuid/setgid/sticky refused in the handler unless allowed). */
export const ModeArg = z.number().int().min(0).max(0o7777).nullish().describe(
  "Mode, e.g. 384 (0o600)",
);

/** 4-digit octal text of a mode (`0600`). */
export function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}
