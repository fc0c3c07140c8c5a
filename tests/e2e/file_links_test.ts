/**
 * Issue 9 §2, class "no I/O goes through a link to outside" (SECURITY.md
 * PATH-40..PATH-43) through the real server and a real MCP client, on hosts
 * whose login shell is dash and bash:
 *
 * - the reported attack: a link planted in the destination tree plus
 *   `ssh_cp` (GNU `cp -a`) wrote into the login user's `~/.bashrc`, and the
 *   next SSH call ran it;
 * - link targets resolved the way the host resolves them (PATH-22 as the
 *   host sees it);
 * - a relative link that moves is checked again at its new place.
 */

import assert from "node:assert/strict";
import {
  exists,
  guardHome,
  type LoginShell,
  mkdirUser,
  put,
  sha,
  symlinkUser,
  testUser,
  tree,
  withFiles,
} from "./_files_fixture.ts";

type R = Record<string, unknown>;

const SHELLS: LoginShell[] = ["sh", "bash"];

for (const shell of SHELLS) {
  Deno.test(`PATH-40 (${shell}): ssh_cp never writes through a link planted in the destination (the ~/.bashrc attack)`, async () => {
    const u = await testUser(shell);
    const startup = shell === "bash" ? ".bashrc" : ".profile";
    const victim = `${u.home}/${startup}`;
    const marker = `/tmp/sshmcp-pwned-${crypto.randomUUID()}`;
    await guardHome([victim], async () => {
      const before = await sha(victim);
      await withFiles(async ({ s, root }) => {
        // the payload the agent copies, and a destination a hostile host process prepared
        await mkdirUser(`${root}/src`);
        await put(`${root}/src/${startup}`, `touch ${marker}\n`);
        await mkdirUser(`${root}/dst1/src`);
        await symlinkUser(victim, `${root}/dst1/src/${startup}`); // file link inside the target
        await mkdirUser(`${root}/dst2`);
        await symlinkUser(u.home, `${root}/dst2/src`); // the target itself links to the home
        await put(`${root}/payload`, `touch ${marker}\n`);
        await symlinkUser(victim, `${root}/dst3`); // dst links to the start-up file
        const e1 = await s.err("ssh_cp", { host: "h1", src: `${root}/src`, dst: `${root}/dst1` });
        assert.equal(e1.code, "WriteError", e1.message);
        assert.match(
          e1.message,
          /already exists .*never merges into a directory and never writes through a link/,
        );
        const e2 = await s.err("ssh_cp", { host: "h1", src: `${root}/src`, dst: `${root}/dst2` });
        assert.equal(e2.code, "PathNotAllowed", e2.message);
        const e3 = await s.err("ssh_cp", {
          host: "h1",
          src: `${root}/payload`,
          dst: `${root}/dst3`,
        });
        assert.equal(e3.code, "PathNotAllowed");
        // the next SSH call runs the login shell: nothing was planted, so nothing runs
        await s.ok("ssh_sftp_stat", { host: "h1", path: root });
        await s.ok("ssh_file_hash", { host: "h1", path: `${root}/payload` });
        assert.equal(await sha(victim), before, `${victim} was written`);
        assert.equal(await exists(marker), false, "the planted start-up file ran");
        // a fresh destination still works, and the copy is exact
        const ok = await s.ok<R>("ssh_cp", {
          host: "h1",
          src: `${root}/src`,
          dst: `${root}/fresh`,
        });
        assert.equal(ok.path, `${root}/fresh`);
        assert.equal(await Deno.readTextFile(`${root}/fresh/${startup}`), `touch ${marker}\n`);
        assert.ok(
          !(await tree(root)).some((n) => n.includes(".ssh-mcp-tmp.")),
          "stage left behind",
        );
      }, { shell });
    });
    await Deno.remove(marker).catch(() => {});
  });
}

for (const shell of SHELLS) {
  Deno.test(`PATH-41 (${shell}): ssh_link targets are resolved with the host's view of existing links`, async () => {
    await withFiles(async ({ s, root }) => {
      await mkdirUser(`${root}/a/b`);
      await put(`${root}/a/b/file`, "f");
      await symlinkUser(root, `${root}/a/b/s`); // a link to the allowlist root
      await symlinkUser("/", `${root}/a/b/t`); // a link to /
      const before = await tree(root);
      const refused: [string, string, RegExp][] = [
        // the example: lexically inside, physically /home/u/outside
        ["s/../../../home/u/outside", "PathNotAllowed", /"s\/\.\."/],
        ["t/etc/passwd", "PathNotAllowed", /outside the allowlist/],
        [`${root}/a/b/t/etc`, "PathNotAllowed", /outside the allowlist/],
        ["file/../../../../etc", "PathNotAllowed", /"file\/\.\."/],
      ];
      for (const [src, code, re] of refused) {
        const e = await s.err("ssh_link", {
          host: "h1",
          src,
          dst: `${root}/a/b/l`,
          symbolic: true,
        });
        assert.equal(e.code, code, `${src}: ${e.message}`);
        assert.match(e.message, re, src);
      }
      assert.deepEqual(await tree(root), before, "no link was created");
      // leading ".." is exact from the link's canonical directory
      await s.ok("ssh_link", {
        host: "h1",
        src: "../b/file",
        dst: `${root}/a/b/ok`,
        symbolic: true,
      });
      assert.equal(await Deno.readLink(`${root}/a/b/ok`), "../b/file");
    }, { shell });
  });
}

for (const shell of SHELLS) {
  Deno.test(`PATH-42 (${shell}): a relative link that moves or is copied is checked again at its new place`, async () => {
    await withFiles(async ({ s, root }) => {
      await put(`${root}/x`, "x");
      await mkdirUser(`${root}/d`);
      await symlinkUser("../x", `${root}/d/l`); // -> root/x here; -> outside one level up
      await mkdirUser(`${root}/t/sub`);
      await symlinkUser("../../x", `${root}/t/sub/l2`);
      await mkdirUser(`${root}/t2`);
      await symlinkUser("../secret.key", `${root}/t2/l3`); // fine here, restricted deeper
      await mkdirUser(`${root}/z`);
      await mkdirUser(`${root}/t3`);
      await symlinkUser("sub/../x", `${root}/t3/l4`);
      const before = await tree(root);
      const cases: [string, R, string][] = [
        [
          "ssh_mv",
          { src: `${root}/d/l`, dst: `${root}/l`, follow_symlinks: false },
          "PathNotAllowed",
        ],
        ["ssh_mv", { src: `${root}/t/sub`, dst: `${root}/sub2` }, "PathNotAllowed"],
        ["ssh_cp", { src: `${root}/t/sub`, dst: `${root}/sub2` }, "PathNotAllowed"],
        ["ssh_mv", { src: `${root}/t2`, dst: `${root}/z/t2` }, "PathRestricted"],
        ["ssh_cp", { src: `${root}/t2`, dst: `${root}/z` }, "PathRestricted"],
        ["ssh_mv", { src: `${root}/t3`, dst: `${root}/z/t3` }, "PathNotAllowed"],
      ];
      for (const [tool, a, code] of cases) {
        const e = await s.err(tool, { host: "h1", ...a });
        assert.equal(e.code, code, `${tool} ${JSON.stringify(a)}: ${e.message}`);
        assert.match(e.message, /symbolic link/);
      }
      assert.deepEqual(await tree(root), before, "nothing moved or copied");
      // links that stay inside at the new place move and copy normally
      await mkdirUser(`${root}/t4`);
      await symlinkUser("inner", `${root}/t4/l5`);
      await s.ok("ssh_mv", { host: "h1", src: `${root}/t4`, dst: `${root}/z/t4` });
      await s.ok("ssh_cp", { host: "h1", src: `${root}/t/sub`, dst: `${root}/z/sub` });
      assert.equal(await Deno.readLink(`${root}/z/sub/l2`), "../../x");
    }, { shell, perHost: () => 'restricted_globs = ["**/*.key"]' });
  });
}
