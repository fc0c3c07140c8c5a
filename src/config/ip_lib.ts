/**
 * Fills `ip_slot.ts` with `ipaddr.js` when imported (see there for why the
 * package is not a static import of `settings.ts`). Imported for this side
 * effect by the server program (`cli.ts`, `app.ts`), by the modules that
 * check addresses outside `loadConfig` (`http/auth.ts`, `serve_ssh.ts`,
 * `init.ts`) and by `loadIpLib()`.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import { provideIpLib } from "./ip_slot.ts";

provideIpLib(ipaddr);
