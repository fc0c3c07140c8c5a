/**
 * The public types of the ssh_config subset (CONFIG.md §7): what
 * `SshConfig.resolve` returns for one host ({@link SshConfigResult}),
 * the context it needs ({@link ResolveContext}) and the algorithm default
 * lists ({@link AlgorithmDefaults}).
 *
 * @module
 */

/** One ProxyJump hop. */
export interface ProxyJumpHop {
  user: string | null;
  host: string;
  port: number | null;
}

/** The options ssh_config yields for one host (null = not set in the file). */
export interface SshConfigResult {
  /** `HostName` (tokens `%h` / `%%` expanded, lower-cased) */
  hostName: string | null;
  port: number | null;
  user: string | null;
  /** every IdentityFile of every matching block, in order, expanded, de-duplicated */
  identityFiles: string[];
  identitiesOnly: boolean | null;
  /**
   * `IdentityAgent` expanded (`~`, `${VAR}`, tokens); `SSH_AUTH_SOCK` and
   * `$VAR` are replaced by that environment variable (null when unset);
   * `none` is returned as the string `none` (= use no agent).
   */
  identityAgent: string | null;
  /** jump hops in connection order; null when unset or `ProxyJump none` */
  proxyJump: ProxyJumpHop[] | null;
  /**
   * raw `ProxyCommand` (tokens not expanded); null when unset or `none`. It
   * runs a local command: the caller honours it only with
   * `ALLOW_SSH_CONFIG_PROXYCOMMAND=true` (a warning is added to `warnings`).
   */
  proxyCommand: string | null;
  /** seconds; null when unset or `none` */
  connectTimeout: number | null;
  /** seconds; 0 disables */
  serverAliveInterval: number | null;
  /** algorithm lists with `+` / `-` / `^` applied to the defaults */
  ciphers: string[] | null;
  macs: string[] | null;
  kexAlgorithms: string[] | null;
  hostKeyAlgorithms: string[] | null;
  hostKeyAlias: string | null;
  /** problems found while resolving this host (bad tokens, ProxyCommand present, ...) */
  warnings: string[];
}

/** Default algorithm lists used to resolve `+` / `-` / `^` modifiers. */
export interface AlgorithmDefaults {
  ciphers: string[];
  macs: string[];
  kexAlgorithms: string[];
  hostKeyAlgorithms: string[];
}

/** Context of `SshConfig.resolve` (ssh_config.ts). */
export interface ResolveContext {
  /** `%u` */
  localUser: string;
  /** `%r` */
  remoteUser: string;
  /** `%d` and `~` */
  home: string;
  /** `%p` when the file sets no Port (default 22) */
  port?: number;
  /** defaults for the algorithm modifiers; default `ssh2Algorithms().defaults` */
  algorithmDefaults?: AlgorithmDefaults;
}
