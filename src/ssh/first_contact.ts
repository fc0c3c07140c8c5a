/**
 * First contact, confirmed by a human (issue 13 item 3): the handshake
 * reports an UNKNOWN host key to whoever asked for the connection, so the
 * MCP layer can show it to the user (host, address, key type, SHA256
 * fingerprint) and, on an explicit yes only, pin it with
 * `HostPins.pin()` (`host_pins.ts`).
 *
 * The report travels through an `AsyncLocalStorage` scope:
 *
 * ```ts
 * const collector = new OfferCollector();
 * try {
 *   await firstContact.run(collector, () => pool.get(policy));
 * } catch (e) {
 *   if (isToolError(e, "UnknownHost") && collector.offers.length > 0) ... ask, pin, retry
 * }
 * ```
 *
 * What is recorded (`handshake.ts`): only a key whose verdict is `unknown`
 * and not `certAuthorityOnly`. A mismatched or revoked key (a CHANGED key) is
 * never recorded, so it can never be offered. Recording never changes the
 * verdict: the handshake is still refused with `UnknownHost` (the connection
 * closes before authentication).
 *
 * The scope is read once, synchronously, when a handshake starts (the host
 * verifier runs later from socket callbacks, which need not carry the async
 * context). A connection the pool is already opening for another caller is
 * shared, so only the caller whose scope started the handshake (and the
 * handshakes of its jump hosts) gets the offer.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

/** An unknown host key the server presented during a handshake. */
export interface HostKeyOffer {
  /** hosts.toml alias (or allowlisted name) of the hop */
  readonly alias: string;
  /** known_hosts name the key would be pinned under (`host`, `[host]:port` or the HostKeyAlias) */
  readonly lookupKey: string;
  /** port connected to */
  readonly port: number;
  /** address connected to (the network-policy-verified address, or the name) */
  readonly address: string;
  /** key type of the blob, e.g. `ssh-ed25519` */
  readonly keyType: string;
  /** raw public key blob as presented on the wire */
  readonly keyBlob: Uint8Array;
  /** `SHA256:` + unpadded base64 of sha256(blob), as `ssh-keygen -l` prints it */
  readonly fingerprint: string;
}

/** Collects the offers of one scope (see {@link firstContact}). */
export class OfferCollector {
  readonly #offers: HostKeyOffer[] = [];

  /** Offers so far, in the order the handshakes saw them (one per lookup key and key). */
  get offers(): readonly HostKeyOffer[] {
    return this.#offers;
  }

  /** Records an offer; a repeat of the same lookup key and fingerprint is ignored. */
  record(offer: HostKeyOffer): void {
    if (
      this.#offers.some((o) =>
        o.lookupKey === offer.lookupKey && o.fingerprint === offer.fingerprint
      )
    ) return;
    this.#offers.push({ ...offer, keyBlob: new Uint8Array(offer.keyBlob) });
  }
}

const storage = new AsyncLocalStorage<OfferCollector>();

/** The first-contact scope (see module docs). */
export const firstContact = {
  /** Runs `fn` with `collector` receiving the unknown-key offers of the handshakes it starts. */
  run<T>(collector: OfferCollector, fn: () => T): T {
    return storage.run(collector, fn);
  },
  /** The collector of the current scope, if any. */
  current(): OfferCollector | undefined {
    return storage.getStore();
  },
};
