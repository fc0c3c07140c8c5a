/**
 * Fills `ip_slot.ts` with `ipaddr.js` when imported (see there for why the
 * package is not a static import of `settings.ts`). Imported for this side
 * effect by `app.ts` by URL (`App.create`, or `App.loadCheckers` after the
 * early answers), by the modules that check addresses without an App
 * (`http/auth.ts`, `init.ts`, `bridge/connect.ts`) and by `loadConfig` when a
 * parse asked for it.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import { provideIpLib } from "./ip_slot.ts";

provideIpLib(ipaddr);
