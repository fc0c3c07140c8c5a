/**
 * Issue 9 §2, class "built-in protected files" (SECURITY.md PATH-45..
 * PATH-49) through the real server and a real MCP client, on hosts whose
 * login shell is dash and bash, with the login home itself allowlisted (the
 * common setup that made the file tier a code-execution tier): the shell
 * start-up files, `~/.ssh/` and the rest of the built-in list are restricted
 * for every file tool, reads included, and for subtree operations and
 * listings; a start-up file that is a link protects its target;
 * `SSH_BUILTIN_PROTECTED_PATHS=false` switches them off.
 */

import assert from "node:assert/strict";
import {
  exists,
  guardHome,
  type LoginShell,
  mkdirUser,
  put,
  sha,
  testUser,
  withFiles,
} from "./_files_fixture.ts";

type R = Record<string, unknown>;

const SHELLS: LoginShell[] = ["sh", "bash"];

for (const shell of SHELLS) {
  Deno.test(`PATH-45 (${shell}): shell start-up files and ~/.ssh are refused to every file tool when the home is allowlisted`, async () => {
    const u = await testUser(shell);
    const home = u.home;
    const files = [".bashrc", ".profile", ".bash_logout"].map((f) => `${home}/${f}`);
    const touched = [".bash_profile", ".bash_login", ".zshenv", ".ssh", ".config", "bin"].map((f) =>
      `${home}/${f}`
    );
    const before = await Promise.all(files.map(sha));
    await guardHome([...files, ...touched], () =>
      withFiles(async ({ s, root }) => {
        await put(`${root}/evil`, "touch /tmp/sshmcp-pwned\n");
        const attempts: [string, R][] = [
          ["ssh_upload", { path: `${home}/.bashrc`, content_text: "echo pwned\n" }],
          ["ssh_upload", { path: "~/.bashrc".replace("~", home), content_text: "x" }],
          ["ssh_upload", { path: ".profile", content_text: "x" }], // relative to the login home
          ["ssh_upload", { path: `${home}/.zshenv`, content_text: "x" }],
          ["ssh_upload", {
            path: `${home}/.ssh/authorized_keys`,
            content_text: "ssh-ed25519 AAAA x",
          }],
          ["ssh_mkdir", { path: `${home}/.ssh`, parents: true }],
          ["ssh_mkdir", { path: `${home}/.config/autostart`, parents: true }],
          ["ssh_deploy", { path: `${home}/.bash_profile`, content_text: "x" }],
          ["ssh_edit", { path: `${home}/.bashrc`, old_string: "#", new_string: "echo pwned #" }],
          ["ssh_delete", { path: `${home}/.bash_logout` }],
          ["ssh_sftp_download", { path: `${home}/.profile` }],
          ["ssh_file_hash", { path: `${home}/.bashrc` }],
          ["ssh_mv", { src: `${root}/evil`, dst: `${home}/.bash_login` }],
          ["ssh_cp", { src: `${root}/evil`, dst: `${home}/.bash_login` }],
          ["ssh_link", { src: `${root}/evil`, dst: `${home}/.bash_login`, symbolic: true }],
          ["ssh_link", { src: `${home}/.bashrc`, dst: `${root}/l`, symbolic: true }],
          ["ssh_link", { src: `${home}/.bashrc`, dst: `${root}/h` }],
          ["ssh_mkdir", { path: `${home}/bin` }],
        ];
        for (const [tool, a] of attempts) {
          const e = await s.err(tool, { host: "h1", ...a });
          assert.equal(e.code, "PathRestricted", `${tool} ${JSON.stringify(a)}: ${e.message}`);
          assert.match(e.message, /built-in protected path/);
          assert.match(e.message, /SSH_BUILTIN_PROTECTED_PATHS=false/);
        }
        // subtree operations: the home itself contains them
        const sub = await s.err("ssh_delete_folder", { host: "h1", path: home, recursive: true });
        assert.ok(["WriteError", "PathRestricted"].includes(sub.code), sub.message);
        await mkdirUser(`${root}/dotfiles`);
        await put(`${root}/dotfiles/.bashrc`, "x");
        const mv = await s.err("ssh_mv", {
          host: "h1",
          src: `${root}/dotfiles/.bashrc`,
          dst: `${home}/.bashrc`,
        });
        assert.equal(mv.code, "PathRestricted");
        // listings of the home do not show them
        const l = await s.ok<R>("ssh_sftp_list", { host: "h1", path: home });
        const names = (l.entries as { name: string }[]).map((e) => e.name);
        for (const n of [".bashrc", ".profile", ".bash_logout", ".ssh"]) {
          assert.ok(!names.includes(n), n);
        }
        assert.ok((l.output_warnings as string[]).some((w) => /entr(y|ies) hidden/.test(w)));
        // ordinary files in the home are unaffected
        const ok = await s.ok<R>("ssh_upload", {
          host: "h1",
          path: `${home}/notes-${shell}.txt`,
          content_text: "ok",
        });
        assert.equal(ok.success, true);
        await s.ok("ssh_delete", { host: "h1", path: `${home}/notes-${shell}.txt` });
        assert.deepEqual(await Promise.all(files.map(sha)), before, "a start-up file changed");
        assert.equal(await exists(`${home}/.zshenv`), false);
        assert.equal(await exists(`${home}/bin`), false);
      }, { shell, allowlist: (root) => `path_allowlist = ["${root}", "${home}"]` }));
  });
}

Deno.test("PATH-46: a start-up file that is a symbolic link protects its target", async () => {
  const u = await testUser("sh");
  const link = `${u.home}/.zshrc`;
  await guardHome([link], () =>
    withFiles(async ({ s, root }) => {
      await mkdirUser(`${root}/dotfiles`);
      await put(`${root}/dotfiles/zshrc`, "# shared zshrc\n");
      await Deno.remove(link).catch(() => {});
      await Deno.symlink(`${root}/dotfiles/zshrc`, link);
      try {
        for (
          const [tool, a] of [
            ["ssh_upload", { path: `${root}/dotfiles/zshrc`, content_text: "echo pwned\n" }],
            ["ssh_edit", {
              path: `${root}/dotfiles/zshrc`,
              old_string: "#",
              new_string: "echo x #",
            }],
            ["ssh_delete_folder", { path: `${root}/dotfiles`, recursive: true }],
          ] as [string, R][]
        ) {
          const e = await s.err(tool, { host: "h1", ...a });
          assert.equal(e.code, "PathRestricted", `${tool}: ${e.message}`);
          assert.match(e.message, /through a symbolic link/);
        }
        assert.equal(await Deno.readTextFile(`${root}/dotfiles/zshrc`), "# shared zshrc\n");
      } finally {
        await Deno.remove(link).catch(() => {});
      }
    }));
});

Deno.test("PATH-47: SSH_BUILTIN_PROTECTED_PATHS=false switches the built-in protected paths off (and only them)", async () => {
  const u = await testUser("sh");
  const target = `${u.home}/.zlogout`;
  await guardHome([target], () =>
    withFiles(async ({ s, root }) => {
      try {
        await s.ok("ssh_upload", { host: "h1", path: target, content_text: "# ok\n" });
        assert.equal(await Deno.readTextFile(target), "# ok\n");
        // the operator's own zones still hold
        await mkdirUser(`${root}/z`);
        assert.equal(
          (await s.err("ssh_sftp_stat", { host: "h1", path: `${root}/z` })).code,
          "PathRestricted",
        );
      } finally {
        await Deno.remove(target).catch(() => {});
      }
    }, {
      env: { SSH_BUILTIN_PROTECTED_PATHS: "false" },
      allowlist: (root) => `path_allowlist = ["${root}", "${u.home}"]`,
      perHost: (_a, root) => `restricted_paths = ["${root}/z"]`,
    }));
});
