/**
 * What `ssh_session_list` shows about a pooled connection (a plain record,
 * so tools can name it without reaching the pool).
 *
 * @module
 */

/** One row of `ssh_session_list`. */
export interface PoolSession {
  user: string;
  host: string;
  port: number;
  idle_seconds: number;
}
