import { unitMutation } from "./_mutation.ts";

/** `systemctl restart -- <unit>` (TOOLS.md §11, dangerous); see `_mutation.ts`. */
export default unitMutation("ssh_systemctl_restart");
