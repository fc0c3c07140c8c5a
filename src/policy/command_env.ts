/**
 * Environment prefixes under a restrictive command policy (SECURITY.md
 * EXEC-30..EXEC-33): `NAME=value cmd` (and an allowed assignment-only
 * command) may set only names on a safe list: the built-in one (locale, `TZ`,
 * `TERM`, `COLUMNS`, `LINES`, `NO_COLOR`) plus `SSH_COMMAND_ENV_ALLOWLIST`.
 * Interpreter, loader, shell and helper-program hooks are never admitted,
 * even when the operator lists them: each turns an allowlisted program into
 * code execution (`PERL5OPT=-d PERL5DB=... shasum`, `BROWSER=... pip3`,
 * `LD_PRELOAD=...`, `BASH_ENV=...`, `GIT_SSH_COMMAND=...`, ...).
 *
 * @module
 */

/** Built-in safe names and the shape their value must have. */
const LOCALE_VALUE = /^[A-Za-z0-9_.@-]*$/;
const SAFE_ENV: Readonly<Record<string, RegExp>> = {
  LANG: LOCALE_VALUE,
  LANGUAGE: /^[A-Za-z0-9_.@:-]*$/,
  LC_ALL: LOCALE_VALUE,
  LC_ADDRESS: LOCALE_VALUE,
  LC_COLLATE: LOCALE_VALUE,
  LC_CTYPE: LOCALE_VALUE,
  LC_IDENTIFICATION: LOCALE_VALUE,
  LC_MEASUREMENT: LOCALE_VALUE,
  LC_MESSAGES: LOCALE_VALUE,
  LC_MONETARY: LOCALE_VALUE,
  LC_NAME: LOCALE_VALUE,
  LC_NUMERIC: LOCALE_VALUE,
  LC_PAPER: LOCALE_VALUE,
  LC_TELEPHONE: LOCALE_VALUE,
  LC_TIME: LOCALE_VALUE,
  // zone names (Europe/Berlin), POSIX rules (EST5EDT,M3.2.0,M11.1.0, <+03>-3); never `..`
  TZ: /^:?(?!.*\.\.)[A-Za-z0-9_+,.:<>/-]*$/,
  TERM: /^[A-Za-z0-9_.+-]*$/,
  COLUMNS: /^[0-9]{1,5}$/,
  LINES: /^[0-9]{1,5}$/,
  NO_COLOR: /^[^\n]*$/,
};

/** Names never admitted (exact). */
const FORBIDDEN_NAMES = new Set([
  "PATH",
  "IFS",
  "ENV",
  "BASH_ENV",
  "SHELLOPTS",
  "BASHOPTS",
  "PS1",
  "PS2",
  "PS3",
  "PS4",
  "PROMPT_COMMAND",
  "CDPATH",
  "GLOBIGNORE",
  "HOME",
  "SHELL",
  "BROWSER",
  "PAGER",
  "MANPAGER",
  "EDITOR",
  "VISUAL",
  "GCONV_PATH",
  "LOCPATH",
  "NLSPATH",
  "PERLLIB",
  "CLASSPATH",
  "HOSTALIASES",
  "RESOLV_HOST_CONF",
  "MAIL",
  "TMPDIR",
  "ZDOTDIR",
  "INPUTRC",
  "KUBECONFIG",
  "DOCKER_HOST",
  "OPENSSL_CONF",
  "OPENSSL_ENGINES",
  "CURL_HOME",
  "WGETRC",
  "http_proxy",
  "https_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "ALL_PROXY",
  "all_proxy",
]);

/** Name prefixes never admitted (interpreter, loader, shell and tool hooks). */
const FORBIDDEN_PREFIXES = [
  "LD_",
  "DYLD_",
  "BASH_",
  "BASH",
  "PERL5",
  "PERL_",
  "PYTHON",
  "RUBY",
  "GEM_",
  "BUNDLE_",
  "NODE_",
  "NPM_",
  "npm_",
  "GIT_",
  "LUA_",
  "JAVA",
  "_JAVA",
  "JDK_",
  "PHP",
  "TCL",
  "XDG_",
  "SUDO_",
  "SSH_",
  "MALLOC_",
  "GLIBC_",
  "GCONV",
  "TERMINFO",
  "LESS",
  "SYSTEMD_",
  "GIO_",
  "GTK_",
  "QT_",
  "DBUS_",
  "KRB5",
  "PKG_CONFIG",
];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why a name or value is refused, or null when it may be set. */
export interface EnvVerdict {
  reason: "dangerous-env" | "env-not-allowed";
  message: string;
}

/** True for names that are never admitted, whatever the operator lists. */
export function isForbiddenEnvName(name: string): boolean {
  return FORBIDDEN_NAMES.has(name) || FORBIDDEN_PREFIXES.some((p) => name.startsWith(p));
}

/** The built-in safe names (for messages and documentation). */
export const SAFE_ENV_NAMES: readonly string[] = Object.keys(SAFE_ENV);

function operatorListed(name: string, extra: readonly string[]): boolean {
  return extra.some((e) => e === name || (e.endsWith("*") && name.startsWith(e.slice(0, -1))));
}

/**
 * EXEC-30..33: may `name=value` be set before a program (or alone)? `extra`
 * is `SSH_COMMAND_ENV_ALLOWLIST`.
 */
export function envVerdict(
  name: string,
  value: string,
  extra: readonly string[],
): EnvVerdict | null {
  if (!NAME.test(name)) {
    return {
      reason: "env-not-allowed",
      message: `${JSON.stringify(name)} is not a valid environment name.`,
    };
  }
  if (isForbiddenEnvName(name)) {
    return {
      reason: "dangerous-env",
      message:
        `Setting ${name} before a command is never allowed: it changes which program or code runs ` +
        "(interpreter, loader, shell and helper-program hooks are refused even when SSH_COMMAND_ENV_ALLOWLIST lists them).",
    };
  }
  const shape = SAFE_ENV[name];
  if (shape) {
    if (shape.test(value)) return null;
    return {
      reason: "env-not-allowed",
      message: `The value ${JSON.stringify(value.slice(0, 80))} is not allowed for ${name} ` +
        `(it must match ${shape.source}).`,
    };
  }
  if (operatorListed(name, extra)) return null;
  return {
    reason: "env-not-allowed",
    message:
      `Setting ${name} before a command is not allowed on a host with a restrictive command policy. ` +
      `Allowed names: ${SAFE_ENV_NAMES.join(", ")}${
        extra.length ? ", " + extra.join(", ") : ""
      }. ` +
      "The operator can add harmless names to SSH_COMMAND_ENV_ALLOWLIST.",
  };
}
