/**
 * Persistent shell sessions (SECURITY.md §SESS, TOOLS.md §13): server-side
 * records `{id, alias, cwd}`; no remote PTY, every exec opens a new channel.
 *
 * - ids are 32 random hex characters, bound to the MCP session that opened
 *   them: another MCP session gets "unknown session" for use, list and close
 *   (SESS-2, AC-913);
 * - one command at a time per session: a FIFO lock serializes execs, and the
 *   cwd can only be written while holding it (AC-023, AC-027);
 * - sessions idle longer than `SSH_SHELL_IDLE_TIMEOUT` are closed by an
 *   unref'd reaper timer; at most 16 sessions per MCP session (SESS-5);
 * - a reload with `invalidate_changed` closes the sessions of changed or
 *   removed hosts; shutdown closes all.
 *
 * Several replicas (a shared state, src/state/state.ts): the session table
 * stays in the memory of the replica holding it (the session is tied to that
 * replica's connection pool). Each open session is also announced as
 * `shell id -> replica` (a `shell:<id>` key with the idle timeout as TTL, an
 * index list, and a pub/sub message); every replica keeps a small mirror of
 * the other replicas' sessions (loaded at start, kept current by the
 * messages), so a call for a session of another replica gets a clear
 * "lives on another server replica" error (naming it) instead of "unknown
 * session", synchronously. Another owner still gets "unknown session".
 *
 * @module
 */

import { ToolError, valueError } from "../errors.ts";
import { randomHex } from "../util/random.ts";
import { ownerTag, type SharedState } from "../state/state.ts";

const SHELL_CHANNEL = "shells";
/** Most entries of the shared shell index and of a replica's mirror of foreign sessions. */
const FOREIGN_CAP = 4096;

/** A session of another replica, as this replica knows it. */
interface Foreign {
  replica: string;
  owner: string;
  expires: number;
}

/** SESS-5 cap of open sessions per MCP session. */
export const MAX_SESSIONS_PER_OWNER = 16;

declare const lockBrand: unique symbol;
/** Proof of holding a session's lock (only {@link ShellSession.withLock} creates one). */
export type SessionLock = symbol & { readonly [lockBrand]: true };

/** One persistent session. */
export class ShellSession {
  readonly id: string;
  readonly owner: string;
  /** the `host` argument as the caller gave it (resolved again on every exec) */
  readonly host: string;
  /** the hosts.toml alias it resolved to when opened (for reload invalidation) */
  readonly alias: string;
  readonly createdAt: number;
  lastUsed: number;
  #cwd: string;
  #tail: Promise<void> = Promise.resolve();
  #holder: SessionLock | null = null;
  #closed = false;

  constructor(init: { id: string; owner: string; host: string; alias: string; cwd: string }) {
    this.id = init.id;
    this.owner = init.owner;
    this.host = init.host;
    this.alias = init.alias;
    this.#cwd = init.cwd;
    this.createdAt = Date.now();
    this.lastUsed = this.createdAt;
  }

  /** Current working directory (`~` = the login directory). */
  get cwd(): string {
    return this.#cwd;
  }

  /** True while a command holds the lock. */
  get busy(): boolean {
    return this.#holder !== null;
  }

  /** True once closed (by the client, the reaper, a reload or shutdown). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Marks the session closed; a running command finishes, later calls fail. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Runs `fn` holding the session lock (FIFO). Waiting ends early with
   * Cancelled when `signal` aborts; the queue order is kept either way.
   */
  async withLock<T>(fn: (lock: SessionLock) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const prev = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((r) => (release = r));
    if (signal) {
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<"aborted">((r) => {
        onAbort = () => r("aborted");
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      });
      const first = await Promise.race([prev.then(() => "ready" as const), aborted]);
      signal.removeEventListener("abort", onAbort!);
      if (first === "aborted") {
        prev.then(release);
        throw new ToolError(
          "Cancelled",
          "The request was cancelled while waiting for the session.",
        );
      }
    } else {
      await prev;
    }
    const lock = Symbol("shell-session-lock") as SessionLock;
    this.#holder = lock;
    try {
      return await fn(lock);
    } finally {
      this.#holder = null;
      this.lastUsed = Date.now();
      release();
    }
  }

  /** The only cwd setter: throws unless `lock` is the lock currently held (AC-027). */
  setCwd(lock: SessionLock, cwd: string): void {
    if (this.#holder === null || lock !== this.#holder) {
      throw new Error("shell session cwd written without holding the session lock");
    }
    this.#cwd = cwd;
  }
}

/** The sessions of one server. */
export class ShellStore {
  readonly #sessions = new Map<string, ShellSession>();
  readonly #idleMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #state: SharedState | null = null;
  #unsubscribe: (() => Promise<void>) | null = null;
  /** sessions of other replicas (shared state only) */
  readonly #foreign = new Map<string, Foreign>();

  constructor(idleTimeoutS: number) {
    this.#idleMs = idleTimeoutS * 1000;
  }

  /** TTL of a session's shared record: idle timeout + a margin (refreshed on use). */
  get #sharedTtl(): number {
    return this.#idleMs + 60_000;
  }

  /**
   * Announces sessions through `state` and learns those of other replicas
   * (only a state with `shared` set changes anything). Called once at start.
   */
  async useState(state: SharedState): Promise<void> {
    if (!state.shared) return;
    this.#state = state;
    this.#unsubscribe = await state.subscribe(SHELL_CHANNEL, (m) => this.#onMessage(m));
    // sessions other replicas opened before this one started
    const index = [...new Set(await state.list("shells:index"))].slice(-FOREIGN_CAP);
    const ids = index.map((e) => e.split(" ")[0] ?? "");
    const recs = await state.getMany(ids.map((id) => `shell:${id}`));
    recs.forEach((r, i) => {
      if (r) this.#onMessage(`open ${ids[i]} ${r}`);
    });
  }

  #onMessage(m: string): void {
    const [op, id, replica, owner] = m.split(" ");
    if (!id || !/^[0-9a-f]{32}$/.test(id)) return;
    if (op === "close") {
      this.#foreign.delete(id);
      return;
    }
    if (op !== "open" || !replica || !owner || replica === this.#state?.replicaId) return;
    this.#foreign.delete(id);
    this.#foreign.set(id, { replica, owner, expires: Date.now() + this.#sharedTtl });
    while (this.#foreign.size > FOREIGN_CAP) {
      const [oldest] = this.#foreign.keys();
      this.#foreign.delete(oldest!);
    }
  }

  #announce(s: ShellSession): void {
    const st = this.#state;
    if (!st) return;
    const rec = `${st.replicaId} ${ownerTag(s.owner)}`;
    void Promise.all([
      st.set(`shell:${s.id}`, rec, this.#sharedTtl),
      st.push("shells:index", s.id, FOREIGN_CAP, this.#sharedTtl + 3600_000),
      st.publish(SHELL_CHANNEL, `open ${s.id} ${rec}`),
    ]).catch(() => {});
  }

  /** Refreshes the TTL of a session's shared record (at most once a minute). */
  #touch(s: ShellSession, now: number): void {
    const st = this.#state;
    if (!st || now - s.lastUsed < 60_000) return;
    st.set(`shell:${s.id}`, `${st.replicaId} ${ownerTag(s.owner)}`, this.#sharedTtl)
      .then(() => st.publish(SHELL_CHANNEL, `open ${s.id} ${st.replicaId} ${ownerTag(s.owner)}`))
      .catch(() => {});
  }

  /** Opens a session for `owner` (SESS-5 cap). */
  open(owner: string, host: string, alias: string, cwd: string): ShellSession {
    const mine = [...this.#sessions.values()].filter((s) => s.owner === owner).length;
    if (mine >= MAX_SESSIONS_PER_OWNER) {
      throw valueError(
        `Too many open shell sessions (${MAX_SESSIONS_PER_OWNER} per MCP session); close one with ssh_shell_close.`,
      );
    }
    let id = randomHex(16);
    while (this.#sessions.has(id)) id = randomHex(16);
    const s = new ShellSession({ id, owner, host, alias, cwd });
    this.#sessions.set(id, s);
    this.#arm();
    this.#announce(s);
    return s;
  }

  /**
   * The caller's session, or ValueError "unknown session" (also for other
   * owners, AC-913); "lives on another server replica" for the caller's
   * session held by another replica (shared state).
   */
  get(owner: string, id: string): ShellSession {
    const s = this.#sessions.get(id);
    if (!s || s.owner !== owner || s.closed) {
      this.#foreignError(owner, id);
      throw valueError(
        `Unknown shell session ${JSON.stringify(id)}; open one with ssh_shell_open.`,
      );
    }
    const now = Date.now();
    this.#touch(s, now);
    s.lastUsed = now;
    return s;
  }

  /** Throws the "another replica" error when `id` is the caller's session elsewhere. */
  #foreignError(owner: string, id: string): void {
    const f = this.#foreign.get(id);
    if (!f || this.#sessions.has(id)) return;
    if (f.expires <= Date.now()) {
      this.#foreign.delete(id);
      return;
    }
    if (f.owner !== ownerTag(owner)) return;
    throw valueError(
      `shell session ${id} lives on another server replica (${f.replica}); persistent shells ` +
        `stay on the replica that opened them — send the call to that replica (sticky ` +
        `routing), or open a new session here`,
      { replica: f.replica },
    );
  }

  /** Closes the caller's session; false when unknown (or owned by another MCP session). */
  close(owner: string, id: string): boolean {
    const s = this.#sessions.get(id);
    if (!s || s.owner !== owner) {
      this.#foreignError(owner, id);
      return false;
    }
    this.#drop(s);
    return true;
  }

  /** The caller's sessions, oldest first. */
  list(owner: string): ShellSession[] {
    return [...this.#sessions.values()].filter((s) => s.owner === owner)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Open sessions of every owner. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Closes sessions idle longer than the timeout at `now` (busy ones are kept); returns how many. */
  reap(now: number = Date.now()): number {
    let n = 0;
    for (const s of [...this.#sessions.values()]) {
      if (!s.busy && now - s.lastUsed > this.#idleMs) {
        this.#drop(s);
        n++;
      }
    }
    return n;
  }

  /** Closes every session whose alias is in `aliases` (reload invalidation). */
  closeAliases(aliases: ReadonlySet<string>): number {
    let n = 0;
    for (const s of [...this.#sessions.values()]) {
      if (aliases.has(s.alias)) {
        this.#drop(s);
        n++;
      }
    }
    return n;
  }

  /** Closes everything and stops the reaper (shutdown). */
  closeAll(): void {
    for (const s of [...this.#sessions.values()]) this.#drop(s);
    const unsub = this.#unsubscribe;
    this.#unsubscribe = null;
    void unsub?.().catch(() => {});
  }

  #drop(s: ShellSession): void {
    s.close();
    this.#sessions.delete(s.id);
    const st = this.#state;
    if (st) {
      void Promise.all([st.del(`shell:${s.id}`), st.publish(SHELL_CHANNEL, `close ${s.id}`)])
        .catch(() => {});
    }
    if (this.#sessions.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    const every = Math.min(60_000, Math.max(1000, Math.floor(this.#idleMs / 2)));
    const timer = setInterval(() => this.reap(), every);
    Deno.unrefTimer(timer as unknown as number);
    this.#timer = timer;
  }
}
