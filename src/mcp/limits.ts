/**
 * The size limit of one MCP message on the stdio transport, and the start-up
 * check that every inline payload cap fits below it (TRANS-8, TRANS-9).
 *
 * One JSON-RPC message carries at most one inline payload plus a small
 * envelope. Its largest legitimate size is the largest inline cap after JSON
 * encoding:
 *
 * - `SSH_UPLOAD_MAX_FILE_BYTES` (inline uploads, `content_base64`): base64
 *   makes 4 bytes of every 3, `4 * ceil(n / 3)`;
 * - `SSH_EDIT_MAX_FILE_BYTES` (`ssh_edit` / `ssh_patch` text): JSON escaping
 *   of quotes, backslashes, newlines and tabs at most doubles text (other
 *   control characters take 6 bytes each: send such content as base64);
 * - fixed schema caps (scripts 1 MiB, `unified_diff` 10 MiB, ...) are covered
 *   by the minimum below.
 *
 * The limit is that size plus {@link ENVELOPE_BYTES}, at least
 * {@link MESSAGE_LIMIT_MIN} (16 MiB) and never more than
 * {@link MESSAGE_LIMIT_MAX} (400 MiB, well below the runtime's largest
 * string). With the defaults (`SSH_UPLOAD_MAX_FILE_BYTES` = 256 MiB) the
 * limit is 341.3 MiB (base64 of 256 MiB) + 1 MiB = 342.3 MiB. A configuration whose caps need more than the
 * maximum is refused at start-up with a `ConfigError` naming the setting and
 * the largest value that fits (299 MiB for `SSH_UPLOAD_MAX_FILE_BYTES`).
 *
 * Results are bounded by the same limit on the way out: a result over it is
 * answered with a JSON-RPC error instead (see `stdio.ts`). Note that many MCP
 * clients have their own, smaller limit (the TypeScript SDK client reads at
 * most 10 MiB per message): with such a client keep inline payloads below
 * about 3.5 MiB (a base64 download is sent twice, as text and as structured
 * content) and use `local_path` for larger files.
 *
 * @module
 */

import type { Settings } from "../config/types.ts";
import { ConfigError } from "../errors.ts";

const MIB = 1024 * 1024;

/** Smallest message limit (covers the fixed schema caps: 10 MiB diffs, 1 MiB scripts). */
export const MESSAGE_LIMIT_MIN: number = 16 * MIB;
/** Largest message limit a configuration may ask for. */
export const MESSAGE_LIMIT_MAX: number = 400 * MIB;
/** JSON-RPC envelope and the other arguments of a call carrying an inline payload. */
export const ENVELOPE_BYTES: number = MIB;

/** Bytes of the base64 text of `n` bytes. */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/** One inline cap and the JSON size of its largest payload. */
export interface InlineFigure {
  setting: "SSH_UPLOAD_MAX_FILE_BYTES" | "SSH_EDIT_MAX_FILE_BYTES";
  value: number;
  /** bytes of the payload inside a JSON-RPC message */
  jsonBytes: number;
  /** how the payload is encoded */
  encoding: string;
  /** the largest value of the setting that fits {@link MESSAGE_LIMIT_MAX} */
  maxValue: number;
}

/** The inline caps of a configuration, as message sizes. */
export function inlineFigures(s: Settings): InlineFigure[] {
  const room = MESSAGE_LIMIT_MAX - ENVELOPE_BYTES;
  return [
    {
      setting: "SSH_UPLOAD_MAX_FILE_BYTES",
      value: s.SSH_UPLOAD_MAX_FILE_BYTES,
      jsonBytes: base64Length(s.SSH_UPLOAD_MAX_FILE_BYTES),
      encoding: "base64",
      maxValue: Math.floor(room / 4) * 3,
    },
    {
      setting: "SSH_EDIT_MAX_FILE_BYTES",
      value: s.SSH_EDIT_MAX_FILE_BYTES,
      jsonBytes: 2 * s.SSH_EDIT_MAX_FILE_BYTES,
      encoding: "JSON text",
      maxValue: Math.floor(room / 2),
    },
  ];
}

/** The message limit for a configuration (see module docs); never above the maximum. */
export function messageLimit(s: Settings): number {
  const need = Math.max(...inlineFigures(s).map((f) => f.jsonBytes)) + ENVELOPE_BYTES;
  return Math.min(MESSAGE_LIMIT_MAX, Math.max(MESSAGE_LIMIT_MIN, need));
}

function mib(n: number): string {
  return `${(n / MIB).toFixed(n % MIB === 0 ? 0 : 1)} MiB`;
}

/**
 * TRANS-9: throws `ConfigError` when an inline cap lets a payload through
 * that does not fit the largest message the transport accepts.
 */
export function checkInlineCaps(s: Settings): void {
  for (const f of inlineFigures(s)) {
    if (f.jsonBytes + ENVELOPE_BYTES <= MESSAGE_LIMIT_MAX) continue;
    throw new ConfigError(
      `${f.setting}=${f.value} allows inline payloads of ${mib(f.value)}, which take ${
        mib(f.jsonBytes)
      } as ${f.encoding} in one MCP message; the largest message this server accepts is ${
        mib(MESSAGE_LIMIT_MAX)
      }. Fix: set ${f.setting} to at most ${f.maxValue} (${
        mib(f.maxValue)
      }); larger files go through local_path (SSH_LOCAL_TRANSFER_ROOTS) or ssh_transfer.`,
    );
  }
}
