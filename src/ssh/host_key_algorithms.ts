/**
 * Host-key algorithm order for ssh2's `algorithms.serverHostKey`: the
 * algorithms of the key types pinned in known_hosts first (like OpenSSH's
 * `order_hostkeyalgs`), then ssh2's other defaults.
 *
 * @module
 */

/** Host-key algorithms ssh2 1.17 offers by default, in its preference order. */
export const SSH2_DEFAULT_HOST_KEY_ALGORITHMS: readonly string[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/** ssh2 host-key algorithms allowed per pinned key type. */
const ALGORITHMS_FOR_KEY_TYPE: Record<string, readonly string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
  // ssh-dss is only offered when it is pinned (ssh2 supports it, OpenSSH 9.2 no longer offers it).
  "ssh-dss": ["ssh-dss"],
};
const ALL_ALGORITHMS_ORDER: readonly string[] = [...SSH2_DEFAULT_HOST_KEY_ALGORITHMS, "ssh-dss"];

/**
 * ssh2 `algorithms.serverHostKey` order for the given pinned key types (blob
 * types, e.g. "ssh-rsa"): their algorithms first (ssh-rsa pins expand to
 * rsa-sha2-512, rsa-sha2-256, ssh-rsa), then the rest of ssh2's default
 * host-key algorithms, all in ssh2's preference order.
 */
export function orderHostKeyAlgorithms(pinnedKeyTypes: Iterable<string>): string[] {
  const pinned = new Set<string>();
  for (const t of pinnedKeyTypes) {
    for (const a of ALGORITHMS_FOR_KEY_TYPE[t] ?? []) pinned.add(a);
  }
  const first = ALL_ALGORITHMS_ORDER.filter((a) => pinned.has(a));
  const rest = SSH2_DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !pinned.has(a));
  return [...first, ...rest];
}
