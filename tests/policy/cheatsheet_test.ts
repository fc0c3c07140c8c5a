/**
 * SECURITY.md §24.7: every cheatsheet row (AC-500..AC-539) against the pure
 * matcher; the refusal/opt-out flow through the real registry is covered by
 * the exec end-to-end tests.
 */

import assert from "node:assert/strict";
import {
  isComposite,
  matchCheatsheet,
  optOutWarning,
  refusalMessage,
} from "../../src/policy/cheatsheet.ts";

const ctx = { redactListed: (p: string) => p.endsWith("/.env") || p === ".env" };
const m = (c: string) => matchCheatsheet(c, ctx);

function expect(cmd: string, patternId: string, tool: string) {
  assert.deepEqual(m(cmd), { patternId, suggestedTool: tool }, JSON.stringify(cmd));
}
function none(cmd: string) {
  assert.equal(m(cmd), null, JSON.stringify(cmd));
}

Deno.test("AC-500/501: read-single suggests ssh_sftp_download, or ssh_read_redacted for redact-listed paths", () => {
  expect("cat /etc/hosts", "read-single", "ssh_sftp_download");
  expect("cat /opt/app/.env", "read-single", "ssh_read_redacted");
});

Deno.test("AC-502: every read-single program and option shape", () => {
  for (
    const c of [
      "head -n 100 /var/log/syslog",
      "tail -f /var/log/x",
      "less x",
      "more x",
      "view x",
      "xxd x",
      "od -c x",
      "strings x",
      "wc -l x",
    ]
  ) expect(c, "read-single", "ssh_sftp_download");
});

Deno.test("AC-503: read-ambiguous (grep/awk/sed/file)", () => {
  for (const c of ["grep foo /etc/x", "awk '{print}' .env", "sed -n 1p x", "file x"]) {
    expect(c, "read-ambiguous", "ssh_sftp_download");
  }
});

Deno.test("AC-504: list-single", () => {
  expect("ls -la /opt", "list-single", "ssh_sftp_list");
  expect("ls /tmp", "list-single", "ssh_sftp_list");
});

Deno.test("AC-505..510: sudo shapes", () => {
  expect("sudo cat /etc/shadow", "sudo-read-single", "ssh_sudo_read");
  expect("sudo -u root head x", "sudo-read-single", "ssh_sudo_read");
  expect("sudo cat /srv/app/.env", "sudo-read-single", "ssh_sudo_read_redacted");
  expect("sudo grep x /etc/y", "sudo-read-single", "ssh_sudo_read");
  expect("sudo tee /etc/foo", "sudo-write-single", "ssh_sudo_write");
  expect("sudo tee -a /etc/foo", "sudo-write-single", "ssh_sudo_write");
  expect("sudo sh -c 'cat > /etc/foo'", "sudo-write-single", "ssh_sudo_write");
  expect("sudo vim /etc/hosts", "sudo-edit-single", "ssh_sudo_edit");
  expect("sudo nano x", "sudo-edit-single", "ssh_sudo_edit");
  expect("sudo ed x", "sudo-edit-single", "ssh_sudo_edit");
  expect("sudo ls /root", "sudo-list-single", "ssh_sudo_sftp_list");
});

Deno.test("AC-511: sudo + docker/systemctl falls through to the inner match", () => {
  expect("sudo docker ps", "docker", "ssh_docker_ps");
  expect("sudo systemctl restart x", "systemctl", "ssh_systemctl_restart");
});

Deno.test("AC-512/CHEAT-6/CHEAT-11: docker sub-command map and family texts", () => {
  expect("docker ps -a", "docker", "ssh_docker_ps");
  expect("docker images", "docker", "ssh_docker_images");
  expect("docker logs x", "docker", "ssh_docker_logs");
  expect("docker kill x", "docker", "ssh_docker_stop");
  // changed by CHEAT-12 (docs/security/cheatsheet.md): `system prune` has a tool (scope="system")
  expect("docker system prune -f", "docker", "ssh_docker_prune");
  expect("docker compose up -d", "docker", "ssh_docker_compose_up");
  expect("docker compose config", "docker", "ssh_docker_compose_* family");
  expect("docker network ls", "docker", "ssh_docker_* family");
  expect("docker", "docker", "ssh_docker_* family");
  // changed by CHEAT-11: global options are skipped before the sub-command
  expect("docker -H tcp://x ps", "docker", "ssh_docker_ps");
  expect("docker volume ls", "docker", "ssh_docker_volumes");
});

Deno.test("AC-513: systemctl verbs, dash -> underscore; list-unit-files -> ssh_systemctl_list_units (NEW)", () => {
  expect("systemctl restart nginx", "systemctl", "ssh_systemctl_restart");
  expect("systemctl is-active x", "systemctl", "ssh_systemctl_is_active");
  expect("systemctl reset-failed nginx", "systemctl", "ssh_systemctl_reset_failed");
  expect("systemctl list-units --type=service", "systemctl", "ssh_systemctl_list_units");
  expect("  systemctl   reload nginx", "systemctl", "ssh_systemctl_reload");
  expect("systemctl list-unit-files", "systemctl", "ssh_systemctl_list_units");
});

Deno.test("AC-514/515: journalctl and apt mutations", () => {
  expect("journalctl -u nginx -n 50", "journalctl", "ssh_journalctl");
  expect("journalctl", "journalctl", "ssh_journalctl");
  expect("apt-get install -y nginx", "apt-mutation", "ssh_apt_install");
  expect("apt upgrade", "apt-mutation", "ssh_apt_upgrade");
  expect("apt remove x", "apt-mutation", "ssh_apt_remove");
  expect("apt purge x", "apt-mutation", "ssh_apt_remove");
  expect("apt-get autoremove", "apt-mutation", "ssh_apt_autoremove");
});

Deno.test("AC-516/AC-054: heredoc, tee, echo/printf redirects -> ssh_upload", () => {
  for (
    const c of [
      "cat > /tmp/x <<EOF\nhi\nEOF",
      "cat > /tmp/x <<'EOF'\nhi\nEOF",
      'cat > /tmp/x <<"EOF"\nhi\nEOF',
      "cat > /tmp/x <<-EOF\nhi\nEOF",
      "cat > /tmp/x << EOF\nhi\nEOF",
      "cat > /tmp/x << -EOF\nhi\nEOF",
      "cat > /tmp/x <<_MARKER\nhi\n_MARKER",
      "cat > /tmp/x <<MARKER1\nhi\nMARKER1",
      "cat <<'EOF' > f\nx\nEOF",
      "cat > /etc/app.conf <<'EOF'\nx\nEOF",
      "tee /tmp/x",
      "tee -a /tmp/x",
      "echo x | tee /tmp/f",
      'echo "hello" > /tmp/x',
      "printf '%s' hi > /tmp/x",
    ]
  ) expect(c, "heredoc", "ssh_upload");
  // COMPAT note of AC-516: a bare heredoc read is classified read-single (read shape first)
  expect("cat <<-EOF", "read-single", "ssh_sftp_download");
});

Deno.test("AC-517: single file operations; rm -R is recursive (NEW)", () => {
  expect("mkdir /opt/app/x", "single-fileop", "ssh_mkdir");
  expect("cp a b", "single-fileop", "ssh_cp");
  expect("mv a b", "single-fileop", "ssh_mv");
  expect("rm /opt/app/x", "single-fileop", "ssh_delete");
  expect("rm -rf /opt/app/x", "single-fileop", "ssh_delete_folder");
  expect("rm -fr d", "single-fileop", "ssh_delete_folder");
  expect("rm -R d", "single-fileop", "ssh_delete_folder");
});

Deno.test("AC-518: output redirect to a file", () => {
  expect("uptime > /tmp/up.txt", "output-redirect", "ssh_upload");
  expect("ps aux >out.txt", "output-redirect", "ssh_upload");
});

Deno.test("AC-530/531: not matched: apt reads, appends, fd redirects, /dev/null, composites", () => {
  for (
    const c of [
      "apt list --installed",
      "apt search x",
      "apt show x",
      "dpkg -l",
      "cat /etc/passwd >> /tmp/all-passwds",
      "command > /dev/null",
      "command > /dev/null 2>&1",
      "command 2>&1 > /dev/null",
      "cmd 2> err.log",
      "cmd &> /dev/null",
      "tar -czf /tmp/b.tgz /etc; sha256sum /tmp/b.tgz",
      "mkdir -p /tmp/foo && curl https://e/f | tar -xz",
    ]
  ) none(c);
  // changed by CHEAT-17: `apt-get update` and `apt-mark hold` have tools now
  expect("apt-get update", "apt-mutation", "ssh_apt_update");
  expect("apt-mark hold x", "apt-mutation", "ssh_apt_mark");
  // COMPAT: echo/printf accept `>>`
  expect("echo hi >> /tmp/x", "heredoc", "ssh_upload");
  expect("printf x >> f", "heredoc", "ssh_upload");
});

Deno.test("AC-532/533: composite file operations and reads are not matched (tee is not composite-guarded)", () => {
  for (
    const c of [
      "mkdir a && cd a",
      "rm x; ls",
      "cp a b && ls",
      "cat a | grep b",
      "ls /tmp | wc -l",
      "sudo cat /etc/x | grep y",
    ]
  ) {
    none(c);
  }
  expect("cp a b | tee log", "heredoc", "ssh_upload");
});

Deno.test("AC-534/535: unrelated commands and systemctl verbs without a tool", () => {
  for (
    const c of [
      "uname -a",
      "ps aux",
      "df -h",
      "for f in *; do echo $f; done",
      "myjournalctl",
      "dockerd --version",
      "systemctl reboot",
      "systemctl --version",
    ]
  ) none(c);
  // changed by CHEAT-15: daemon-reload has a tool now
  expect("systemctl daemon-reload", "systemctl", "ssh_systemctl_daemon_reload");
});

Deno.test("AC-538/CHEAT-8: evasions are not matched by design (the command policy decides)", () => {
  for (
    const c of [
      "/bin/cat /etc/shadow",
      '"cat" x',
      "\\cat x",
      "LC_ALL=C cat x",
      "command cat x",
      "tac x",
      "base64 x",
      `python3 -c "print(open('x').read())"`,
    ]
  ) none(c);
});

Deno.test("CHEAT-1/2/AC-539: refusal names the calling tool, the suggestion and the opt-out; the hint text", () => {
  const hit = m("sudo cat /etc/shadow")!;
  const msg = refusalMessage("ssh_sudo_exec", hit);
  assert.match(
    msg,
    /^ssh_sudo_exec refused: command matched cheatsheet pattern 'sudo-read-single'\. Use ssh_sudo_read instead -- /,
  );
  assert.match(msg, /SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS/);
  assert.ok(!msg.includes("ssh_exec_run"));
  assert.equal(
    optOutWarning("ssh_exec_run", m("docker ps")!),
    "ssh_exec_run command matched cheatsheet pattern 'docker'; consider ssh_docker_ps next time",
  );
});

Deno.test("CHEAT-5: composite detection", () => {
  for (const c of ["a | b", "a && b", "a || b", "a; b", "a $(b)", "a `b`"]) {
    assert.ok(isComposite(c), c);
  }
  assert.ok(!isComposite("a > b"));
});
