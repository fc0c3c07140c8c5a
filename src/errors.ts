/**
 * Error classes of the tool contract (TOOLS.md §2.3).
 *
 * A `ToolError` carries a class name from {@link ERROR_CODES}; it is the only
 * error whose message reaches the MCP client. Anything else thrown inside a
 * handler is a programmer error: the registry replaces it with a generic text
 * and a correlation id, and logs the details to stderr.
 *
 * @module
 */

/** Every error class name of the contract, byte-exact. */
export const ERROR_CODES = [
  "HostNotAllowed",
  "HostBlocked",
  "UnknownHost",
  "HostKeyMismatch",
  "AuthenticationFailed",
  "AgentFingerprintNotFound",
  "ConnectError",
  "PathNotAllowed",
  "PathRestricted",
  "RedactBypassBlocked",
  "LocalPathPolicyError",
  "PlatformNotSupported",
  "SFTPSubsystemUnavailable",
  "CommandNotAllowed",
  "CommandIsCheatsheetMatch",
  "SudoFileOpError",
  "WriteError",
  "HashError",
  "SftpDownloadError",
  "ValueError",
  "RuntimeError",
  "Cancelled",
  /** NEW: the audit sink cannot be written; tools above the read tier refuse until it can */
  "AuditUnavailable",
  /** NEW: apt/dpkg is locked by another process (the holder is named) */
  "PackageManagerLocked",
  /** NEW: the call's tier needs a human's approval (SSH_APPROVAL_TIERS) and none was given */
  "ApprovalRequired",
] as const;

/** One error class name of the contract. */
export type ErrorCode = typeof ERROR_CODES[number];

/** Extra machine-readable attributes returned in `structuredContent`. */
export type ErrorAttributes = Record<
  string,
  string | number | boolean | null | string[]
>;

/**
 * A failure the client is allowed to see. The message must be safe: no
 * secrets, no stack traces, and it should say what to do next.
 */
export class ToolError extends Error {
  readonly code: ErrorCode;
  readonly attributes: ErrorAttributes;

  constructor(code: ErrorCode, message: string, attributes: ErrorAttributes = {}) {
    super(message);
    this.name = code;
    this.code = code;
    this.attributes = attributes;
  }
}

/** Shorthand for the most common validation failure. */
export function valueError(message: string, attributes: ErrorAttributes = {}): ToolError {
  return new ToolError("ValueError", message, attributes);
}

/** True when `e` is a {@link ToolError} (optionally of one of `codes`). */
export function isToolError(e: unknown, ...codes: ErrorCode[]): e is ToolError {
  return e instanceof ToolError && (codes.length === 0 || codes.includes(e.code));
}

/**
 * Raised at startup or reload when the configuration is invalid. Messages name
 * the file and key (CONFIG.md §9.1).
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * One fix hint per error class, used by `ssh-mcp doctor` and the README's
 * troubleshooting table.
 */
export const FIX_HINTS: Readonly<Record<ErrorCode, string>> = {
  HostNotAllowed: "Add the host to hosts.toml (or its name to SSH_HOSTS_ALLOWLIST) and reload.",
  HostBlocked:
    "The host is on SSH_HOSTS_BLOCKLIST or refused by the [network] policy; ask the operator.",
  UnknownHost:
    "Pin the host key out of band: ssh-keyscan -p PORT HOST > scratch; compare `ssh-keygen -lf scratch` with the fingerprint from the host console; append to SSH_KNOWN_HOSTS.",
  ApprovalRequired:
    "The operator set SSH_APPROVAL_TIERS: use a client that can ask its user (elicitation) and have a human accept the call, or ask the operator.",
  HostKeyMismatch:
    "The host key changed. Find out why (reinstall? attack?) before replacing the pinned line; never re-trust blindly.",
  AuthenticationFailed:
    "Check the user, that the public key is in the server's authorized_keys, and the passphrase/password source (passphrase_cmd, *_secret).",
  AgentFingerprintNotFound:
    "Start the ssh-agent (SSH_AUTH_SOCK or identity_agent) and `ssh-add` the key whose fingerprint is pinned in identity_fingerprint.",
  ConnectError:
    "Check that the host is up and sshd listens on that address and port; see SSH_CONNECT_TIMEOUT.",
  PathNotAllowed: "Use a path inside the host's path_allowlist (see ssh_describe_host).",
  PathRestricted:
    "The path is in a restricted zone; only the exec tier can touch it, if the operator allows.",
  RedactBypassBlocked: "Read the file with ssh_read_redacted instead.",
  LocalPathPolicyError: "Use a local_path inside SSH_LOCAL_TRANSFER_ROOTS.",
  PlatformNotSupported: "This tool needs a POSIX host (or a capability the host lacks).",
  SFTPSubsystemUnavailable: "Enable `Subsystem sftp` in the server's sshd_config.",
  CommandNotAllowed:
    "Adjust command_allowlist / command_rules for the host, or use a dedicated tool.",
  CommandIsCheatsheetMatch: "Use the suggested dedicated tool instead of a shell command.",
  SudoFileOpError: "See the stage named in the message; check sudo rights and the path.",
  WriteError: "See the message; the original file was left untouched.",
  HashError: "The hash command failed on the host; check the path and that coreutils is installed.",
  SftpDownloadError: "The file is over the size cap or the local destination is not writable.",
  ValueError: "Fix the named parameter and call again.",
  RuntimeError: "An internal error; the server log has details under the correlation id.",
  Cancelled: "The request was cancelled by the client.",
  AuditUnavailable:
    "The audit log cannot be written: fix SSH_AUDIT_LOG (disk space, permissions; `ssh-mcp doctor` checks it). Read tools still work.",
  PackageManagerLocked:
    "Another apt/dpkg run holds the lock (unattended-upgrades, an operator); wait for it to finish and call again. Never delete the lock file.",
};
