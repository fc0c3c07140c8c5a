import assert from "node:assert/strict";
import {
  parseCpuModel,
  parseDf,
  parseIpAddr,
  parseLoad1,
  parseMeminfo,
  parseOsRelease,
  parsePasswd,
  parsePs,
  splitMax,
} from "../../src/tools/host/_parse.ts";

const fx = (name: string) =>
  Deno.readTextFileSync(new URL(`../fixtures/host/${name}`, import.meta.url));

Deno.test("parseOsRelease: captured Debian file, quotes stripped, comments skipped", () => {
  const r = parseOsRelease(fx("os-release.txt") + '# COMMENT=x\n  SPACED = "v" \n');
  assert.equal(r.ID, "debian");
  assert.equal(r.PRETTY_NAME, "Debian GNU/Linux 12 (bookworm)");
  assert.equal(r.SPACED, "v");
  assert.equal(r["# COMMENT"], undefined);
});

Deno.test("parseCpuModel: model name, then Model, then Hardware", () => {
  assert.match(parseCpuModel(fx("cpuinfo.txt")) ?? "", /\S/);
  assert.equal(parseCpuModel("Hardware\t: BCM2835\nModel\t: Raspberry Pi 4\n"), "Raspberry Pi 4");
  assert.equal(parseCpuModel("Hardware\t: BCM2835\n"), "BCM2835");
  assert.equal(parseCpuModel("model name\t:\nmodel name\t: X\n"), "X");
  assert.equal(parseCpuModel(""), null);
});

Deno.test("parseIpAddr: captured `ip -j addr show`; invalid input gives []", () => {
  const ifs = parseIpAddr(fx("ip_addr.json"));
  const lo = ifs.find((i) => i.name === "lo");
  assert.ok(lo);
  assert.equal(lo.state, "UNKNOWN");
  assert.ok(
    lo.addresses.some((a) =>
      a.address === "127.0.0.1" && a.prefix_length === 8 && a.family === "inet"
    ),
  );
  assert.deepEqual(parseIpAddr(""), []);
  assert.deepEqual(parseIpAddr("{not json"), []);
  assert.deepEqual(parseIpAddr('[{"ifname":1},{"ifname":"x","addr_info":[{"family":"inet"}]}]'), [
    { name: "x", state: "UNKNOWN", mac: null, addresses: [] },
  ]);
});

Deno.test("parseDf: header skipped, mount points keep spaces, short rows dropped", () => {
  const rows = parseDf(fx("df.txt"));
  assert.ok(rows.length >= 1);
  assert.ok(rows.every((r) => r.use_percent.endsWith("%") || r.use_percent === "-"));
  const odd = parseDf(
    "Filesystem Type Size Used Avail Use% Mounted on\n/dev/sdb1 ext4 1G 1M 1G 1% /mnt/my disk\nshort row\n",
  );
  assert.deepEqual(odd, [{
    filesystem: "/dev/sdb1",
    type: "ext4",
    size: "1G",
    used: "1M",
    available: "1G",
    use_percent: "1%",
    mount: "/mnt/my disk",
  }]);
});

Deno.test("parsePs: first `top` numeric rows; names with spaces kept", () => {
  const rows = parsePs(fx("ps.txt"), 5);
  assert.equal(rows.length, 5);
  assert.ok(rows.every((r) => Number.isInteger(r.pid)));
  assert.deepEqual(
    parsePs("PID USER %CPU %MEM COMMAND\n  1 root 0.5 0.1 kworker/0:1 H\nbad row here x y\n", 10),
    [
      { pid: 1, user: "root", pcpu: 0.5, pmem: 0.1, command: "kworker/0:1 H" },
    ],
  );
});

Deno.test("parseMeminfo / parseLoad1 on captured files", () => {
  const m = parseMeminfo(fx("meminfo.txt"));
  assert.ok(m.MemTotal! > 0 && m.MemAvailable! > 0);
  assert.ok(parseLoad1(fx("loadavg.txt"))! >= 0);
  assert.equal(parseLoad1(""), null);
  assert.equal(parseLoad1("abc 1 2"), null);
});

Deno.test("parsePasswd: >= 7 fields and numeric ids, else null", () => {
  const e = parsePasswd(fx("passwd.txt"));
  assert.equal(e?.username, "sshmcp");
  assert.equal(e?.shell, "/bin/sh");
  assert.equal(parsePasswd("a:x:1:2:g:/h"), null);
  assert.equal(parsePasswd("a:x:one:2:g:/h:/bin/sh"), null);
});

Deno.test("splitMax keeps the rest in the last field", () => {
  assert.deepEqual(splitMax("a  b c d", 3), ["a", "b", "c d"]);
  assert.deepEqual(splitMax("a", 3), ["a"]);
});
