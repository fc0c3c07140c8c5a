/**
 * Group `docker` end to end: real sshd hosts, the real server behind a real
 * MCP client, real containers in the shared Podman test bed, reached through
 * the Docker 28 CLI (h1) and Podman's own CLI (h2). Covers every read tool's
 * happy path, a full container lifecycle, check mode changing nothing, a host
 * without the CLI, the fan-out of ssh_docker_ps, docker_cp both ways with its
 * path-policy refusals, and ssh_docker_exec under the command policy.
 */

import assert from "node:assert/strict";
import {
  containersNamed,
  engineState,
  removeContainers,
  uniqueName,
  withBedLock,
  withDockerFleet,
} from "../_support/containers.ts";
import { testUser } from "../_support/sshd.ts";

type R = Record<string, unknown>;
type Rows = R[];

Deno.test("docker tools on real containers (Docker CLI and Podman CLI)", async (t) => {
  await withDockerFleet(async ({ bed, s, root, restricted, audit }) => {
    const p = uniqueName("sshmcp-life");
    const img = `localhost/${p}-img:v1`;
    await bed.docker(["tag", bed.image, img]);
    await bed.docker(["volume", "create", `${p}-vol`]);
    const made: string[] = [];
    try {
      await t.step(
        "lifecycle: run detached, ps, logs, top, stats, exec, stop, start, restart, rm, rmi, prune",
        async () => {
          const name = `${p}-web`;
          made.push(name);
          const run = await s.ok<R>("ssh_docker_run", {
            host: "h1",
            image: img,
            name,
            remove: false,
            detached: true,
            args: ["sh", "-c", "echo started-ok; exec sleep 600"],
            run_options: ["--network", "none", "-e", "MODE=test", "-l", `suite=${p}`],
          });
          assert.equal(run.exit_code, 0, String(run.stderr));
          assert.equal((run as R).check, false);
          const ps = await s.ok<{ containers: Rows; stdout: string }>("ssh_docker_ps", {
            host: "h1",
            name,
          });
          assert.equal(ps.containers.length, 1);
          assert.ok(!("Labels" in ps.containers[0]!), "labels not stripped");
          assert.ok(!ps.stdout.includes(`suite=${p}`), "stdout still carries labels");
          const withLabels = await s.ok<{ containers: Rows }>("ssh_docker_ps", {
            host: "h1",
            name,
            include_labels: true,
          });
          assert.match(JSON.stringify(withLabels.containers[0]!.Labels), new RegExp(`suite`));
          const logs = await s.ok<R>("ssh_docker_logs", { host: "h1", container: name, tail: 10 });
          assert.match(String(logs.stdout), /started-ok/);
          const top = await s.ok<R>("ssh_docker_top", {
            host: "h1",
            container: name,
            ps_options: "-o pid,args",
          });
          assert.match(String(top.stdout), /sleep 600/);
          const stats = await s.ok<{ containers: Rows }>("ssh_docker_stats", { host: "h1" });
          assert.ok(stats.containers.length >= 1);
          const ex = await s.ok<R>("ssh_docker_exec", {
            host: "h1",
            container: name,
            command: "echo inside-ok",
          });
          assert.equal(ex.exit_code, 0, String(ex.stderr));
          assert.equal(String(ex.stdout).trim(), "inside-ok");
          for (const verb of ["stop", "start", "restart"]) {
            const r = await s.ok<R>(`ssh_docker_${verb}`, { host: "h1", container: name });
            assert.equal(r.exit_code, 0, `${verb}: ${r.stderr}`);
          }
          const state = await bed.docker(["inspect", "--format", "{{.State.Status}}", name]);
          assert.equal(state.stdout.trim(), "running");
          const rmRunning = await s.ok<R>("ssh_docker_rm", { host: "h1", container: name });
          assert.notEqual(rmRunning.exit_code, 0, "rm of a running container without force");
          const rm = await s.ok<R>("ssh_docker_rm", { host: "h1", container: name, force: true });
          assert.equal(rm.exit_code, 0);
          assert.deepEqual(await containersNamed(bed, name), []);
          // a stopped container for prune, and the image for rmi
          const dead = `${p}-dead`;
          made.push(dead);
          await s.ok("ssh_docker_run", {
            host: "h1",
            image: img,
            name: dead,
            remove: false,
            detached: true,
            args: ["true"],
            run_options: ["--network", "none"],
          });
          await bed.docker(["wait", dead]);
          // a real prune removes every stopped container of the shared bed: other modules'
          // stop -> start windows hold the bed lock shared, so it waits for them
          await withBedLock(bed, "exclusive", async () => {
            const plan = await s.ok<{ plan: { items: string[] } }>("ssh_docker_prune", {
              host: "h1",
              scope: "container",
              check: true,
            });
            assert.ok(plan.plan.items.includes(`container ${dead}`), JSON.stringify(plan.plan));
            const prune = await s.ok<R>("ssh_docker_prune", { host: "h1", scope: "container" });
            assert.equal(prune.exit_code, 0);
          });
          assert.deepEqual(await containersNamed(bed, dead), []);
          const rmi = await s.ok<R>("ssh_docker_rmi", { host: "h1", image: img });
          assert.equal(rmi.exit_code, 0, String(rmi.stderr));
          const gone = await bed.docker(["image", "inspect", img]);
          assert.notEqual(gone.code, 0, "rmi left the image");
        },
      );

      await t.step(
        "every read tool's happy path: images, system_df, volumes, events, inspect (Docker CLI)",
        async () => {
          await bed.docker(["tag", bed.image, img]);
          const images = await s.ok<{ images: Rows }>("ssh_docker_images", {
            host: "h1",
            reference: `localhost/${p}-img`,
          });
          assert.ok(
            images.images.some((i) => i.Repository === `localhost/${p}-img` && i.Tag === "v1"),
            JSON.stringify(images.images),
          );
          const df = await s.ok<{ categories: Rows }>("ssh_docker_system_df", { host: "h1" });
          assert.deepEqual(
            df.categories.map((c) => c.Type).sort(),
            ["Build Cache", "Containers", "Images", "Local Volumes"],
          );
          const vols = await s.ok<{ volumes: Rows }>("ssh_docker_volumes", { host: "h1" });
          assert.ok(vols.volumes.some((v) => v.Name === `${p}-vol`));
          const one = await s.ok<{ volumes: Rows }>("ssh_docker_volumes", {
            host: "h1",
            name: `${p}-vol`,
          });
          assert.equal(one.volumes.length, 1);
          const missing = await s.ok<{ volumes: Rows; exit_code: number }>("ssh_docker_volumes", {
            host: "h1",
            name: `${p}-nope`,
          });
          assert.deepEqual([missing.volumes.length, missing.exit_code !== 0], [0, true]);
          const ev = await s.ok<{ events: Rows }>("ssh_docker_events", {
            host: "h1",
            since: "10m",
            filters: [`container=${p}-web`],
          });
          assert.ok(ev.events.length >= 2, `events: ${JSON.stringify(ev.events).slice(0, 300)}`);
          const insp = await s.ok<{ objects: Rows }>("ssh_docker_inspect", {
            host: "h1",
            target: img,
            kind: "image",
          });
          assert.equal(insp.objects.length, 1);
        },
      );

      await t.step(
        "Podman CLI path: run, ps (JSON array output), inspect masks Config.Env and CreateCommand, rm",
        async () => {
          const name = `${p}-pod`;
          made.push(name);
          const run = await s.ok<R>("ssh_docker_run", {
            host: "h2",
            image: img,
            name,
            remove: false,
            detached: true,
            args: ["sleep", "600"],
            run_options: ["-e", "API_TOKEN=s3cr3t-value", "-e", "MODE=prod"],
          });
          assert.equal(run.exit_code, 0, String(run.stderr));
          const ps = await s.ok<{ containers: Rows }>("ssh_docker_ps", { host: "h2", name });
          assert.equal(ps.containers.length, 1);
          const insp = await s.ok<{ objects: Rows; env_masked: number; stdout: string }>(
            "ssh_docker_inspect",
            { host: "h2", target: name },
          );
          const text = JSON.stringify(insp);
          assert.ok(!text.includes("s3cr3t-value"), "secret env value leaked");
          assert.ok(text.includes("MODE=prod"));
          assert.ok(insp.env_masked >= 1);
          const rm = await s.ok<R>("ssh_docker_rm", { host: "h2", container: name, force: true });
          assert.equal(rm.exit_code, 0);
        },
      );

      await t.step(
        "DOCKER-30: check=true on every mutating tool changes nothing (state before = after)",
        async () => {
          const name = `${p}-chk`;
          made.push(name);
          await bed.docker(["run", "-d", "--network", "none", "--name", name, img, "sleep", "600"]);
          const before = await engineState(bed, p);
          const calls: [string, R][] = [
            ["ssh_docker_stop", { container: name }],
            ["ssh_docker_restart", { container: name }],
            ["ssh_docker_start", { container: name }],
            ["ssh_docker_rm", { container: name, force: true }],
            ["ssh_docker_rmi", { image: img, force: true }],
            ["ssh_docker_pull", { image: img }],
            ["ssh_docker_run", { image: img, name: `${p}-new`, detached: true, remove: false }],
            ["ssh_docker_exec", { container: name, command: "echo hi" }],
            ["ssh_docker_prune", { scope: "system", all_: true }],
            ["ssh_docker_prune", { scope: "volume" }],
            ["ssh_docker_prune", { scope: "image" }],
            ["ssh_docker_prune", { scope: "network" }],
            [
              "ssh_docker_cp",
              {
                container: name,
                container_path: "/etc/passwd",
                host_path: `${root}/chk.txt`,
                direction: "from_container",
              },
            ],
          ];
          for (const [tool, args] of calls) {
            const r = await s.ok<{ check: boolean; plan: { action: string } | null }>(tool, {
              host: "h1",
              ...args,
              check: true,
            });
            assert.equal(r.check, true, tool);
            assert.ok(r.plan?.action, `${tool}: no plan`);
          }
          const stop = await s.ok<{ plan: R }>("ssh_docker_stop", {
            host: "h1",
            container: name,
            check: true,
          });
          assert.deepEqual(
            [stop.plan.changes, (stop.plan.before as R).status, (stop.plan.after as R).status],
            [true, "running", "exited"],
          );
          const rmi = await s.ok<{ plan: R }>("ssh_docker_rmi", {
            host: "h1",
            image: img,
            check: true,
          });
          assert.ok(((rmi.plan.before as R).used_by as string[]).includes(name));
          assert.equal(await engineState(bed, p), before, "check mode changed the engine");
          await assert.rejects(Deno.stat(`${root}/chk.txt`), Deno.errors.NotFound);
        },
      );

      await t.step(
        "DOCKER-20: a host without the container CLI gets PlatformNotSupported naming it",
        async () => {
          for (const [tool, args] of [["ssh_docker_ps", {}], ["ssh_docker_images", {}]] as const) {
            const e = await s.err(tool, { host: "h3", ...args });
            assert.equal(e.code, "PlatformNotSupported", e.message);
            assert.match(e.message, /"nerdctl" is not installed on h3/);
            assert.equal(e.meta.missing, "nerdctl");
          }
        },
      );

      await t.step(
        "fan-out: ssh_docker_ps over a pattern answers which hosts run an image; each target audited",
        async () => {
          const name = `${p}-fan`;
          made.push(name);
          await bed.docker(["run", "-d", "--network", "none", "--name", name, img, "sleep", "600"]);
          const r = await s.ok<{ fleet: R; host: string }>("ssh_docker_ps", {
            pattern: "all-docker",
            name,
          });
          const fleet = r.fleet as {
            hosts_matched: string[];
            results: Record<string, { containers: Rows; error: string | null }>;
            hosts_with_containers: string[];
            failed: string[];
          };
          assert.deepEqual(fleet.hosts_matched, ["h1", "h2", "h3"]);
          // h1 and h2 see the same engine; h3 has no CLI
          assert.deepEqual(fleet.hosts_with_containers, ["h1", "h2"]);
          assert.equal(fleet.results.h3!.error, "PlatformNotSupported");
          assert.deepEqual(fleet.failed, ["h3"]);
          const byHosts = await s.ok<{ fleet: { hosts_with_containers: string[] } }>(
            "ssh_docker_ps",
            { hosts: ["h1"], name },
          );
          assert.deepEqual(byHosts.fleet.hosts_with_containers, ["h1"]);
          const lines = (await audit()).filter((l) =>
            l.tool === "ssh_docker_ps" && typeof l.alias === "string"
          );
          assert.ok(lines.filter((l) => l.alias === "h3" && l.result === "error").length >= 1);
          const both = await s.err("ssh_docker_ps", { host: "h1", pattern: "all" });
          assert.equal(both.code, "ValueError");
          const unknown = await s.err("ssh_docker_ps", { hosts: ["h1", "nope"] });
          assert.match(unknown.message, /nope \(HostNotAllowed\)/);
        },
      );

      await t.step(
        "AC-714/DOCKER-24/25: docker_cp both directions; path-policy refusals",
        async () => {
          const user = await testUser();
          const name = `${p}-cp`;
          made.push(name);
          await bed.docker(["run", "-d", "--network", "none", "--name", name, img, "sleep", "600"]);
          await bed.docker([
            "exec",
            name,
            "sh",
            "-c",
            "mkdir -p /data && echo from-container > /data/f.txt",
          ]);
          const out = await s.ok<R>("ssh_docker_cp", {
            host: "h1",
            container: name,
            container_path: "/data/f.txt",
            host_path: `${root}/got.txt`,
            direction: "from_container",
          });
          assert.equal(out.exit_code, 0, String(out.stderr));
          assert.equal(await Deno.readTextFile(`${root}/got.txt`), "from-container\n");
          await Deno.writeTextFile(`${root}/up.txt`, "from-host\n");
          await Deno.chown(`${root}/up.txt`, user.uid, null);
          const inn = await s.ok<R>("ssh_docker_cp", {
            host: "h1",
            container: name,
            container_path: "/data/up.txt",
            host_path: `${root}/up.txt`,
            direction: "to_container",
          });
          assert.equal(inn.exit_code, 0, String(inn.stderr));
          const cat = await bed.docker(["exec", name, "cat", "/data/up.txt"]);
          assert.equal(cat.stdout, "from-host\n");
          const outside = await s.err("ssh_docker_cp", {
            host: "h1",
            container: name,
            container_path: "/etc/passwd",
            host_path: "/tmp/sshmcp-docker-outside.txt",
            direction: "from_container",
          });
          assert.equal(outside.code, "PathNotAllowed");
          const inZone = await s.err("ssh_docker_cp", {
            host: "h1",
            container: name,
            container_path: "/etc/passwd",
            host_path: `${restricted}/x`,
            direction: "from_container",
          });
          assert.equal(inZone.code, "PathRestricted");
          const above = await s.err("ssh_docker_cp", {
            host: "h1",
            container: name,
            container_path: "/tmp/",
            host_path: root,
            direction: "to_container",
          });
          assert.equal(above.code, "PathRestricted", above.message);
          assert.match(above.message, /contains the restricted zone/);
          // a tree with a restricted-glob file inside is refused as a whole (DOCKER-25)
          const tree = `${root}/tree`;
          await Deno.mkdir(`${tree}/sub`, { recursive: true });
          await Deno.writeTextFile(`${tree}/sub/server.key`, "k");
          await Deno.writeTextFile(`${tree}/ok.txt`, "ok");
          for (const x of [tree, `${tree}/sub`, `${tree}/sub/server.key`, `${tree}/ok.txt`]) {
            await Deno.chown(x, user.uid, null);
          }
          const glob = await s.err("ssh_docker_cp", {
            host: "h1",
            container: name,
            container_path: "/tmp/",
            host_path: tree,
            direction: "to_container",
          });
          assert.equal(glob.code, "PathRestricted", glob.message);
          const keyCheck = await bed.docker(["exec", name, "ls", "/tmp"]);
          assert.ok(!keyCheck.stdout.includes("tree"), "the refused tree reached the container");
          const bad = await s.err("ssh_docker_cp", {
            host: "h1",
            container: name,
            container_path: "/x",
            host_path: `${root}/x`,
            direction: "sideways",
          });
          assert.equal(bad.code, "ValueError");
          for (const cp of ["-a", "x\x00y"]) {
            const e = await s.err("ssh_docker_cp", {
              host: "h1",
              container: name,
              container_path: cp,
              host_path: `${root}/x`,
              direction: "from_container",
            });
            assert.equal(e.code, "ValueError", `AC-715 ${JSON.stringify(cp)}`);
          }
        },
      );

      await t.step(
        "DOCKER-6: ssh_docker_exec runs only what the host's command policy admits",
        async () => {
          const name = `${p}-ex`;
          made.push(name);
          await bed.docker(["run", "-d", "--network", "none", "--name", name, img, "sleep", "600"]);
          const ok = await s.ok<R>("ssh_docker_exec", {
            host: "h2",
            container: name,
            command: "id -u",
          });
          assert.equal(String(ok.stdout).trim(), "0");
          const denied = await s.err("ssh_docker_exec", {
            host: "h1",
            container: name,
            command: "rm -rf /data",
          });
          assert.equal(denied.code, "CommandNotAllowed", denied.message);
          const chained = await s.err("ssh_docker_exec", {
            host: "h1",
            container: name,
            command: "echo a; rm -rf /",
          });
          assert.equal(chained.code, "CommandNotAllowed", chained.message);
          const lines = (await audit()).filter((l) =>
            l.type === "policy_decision" && l.tool === "ssh_docker_exec"
          );
          assert.ok(lines.some((l) => l.decision === "deny"));
          assert.ok(lines.some((l) => l.decision === "allow"));
        },
      );
    } finally {
      await removeContainers(bed, made);
      await bed.docker(["rmi", "-f", img]);
      await bed.docker(["volume", "rm", "-f", `${p}-vol`]);
    }
  });
});
