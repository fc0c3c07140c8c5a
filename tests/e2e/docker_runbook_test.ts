/**
 * The container roll-out runbook (runbooks/ssh-container-rollout) walked end
 * to end with the calls it prescribes, on real containers: the success branch
 * (record, image present, dry-run, stop old, run new with the same flags,
 * verify, keep) and the roll-back branch (the new version fails its checks;
 * stop it, start the old container, verify). The runbook's text is read too,
 * so a step renamed there fails here.
 */

import assert from "node:assert/strict";
import { removeContainers, uniqueName, withDockerFleet } from "../_support/containers.ts";

type R = Record<string, unknown>;
const RUNBOOK = new URL("../../runbooks/ssh-container-rollout/SKILL.md", import.meta.url);

/** A long-running service command that stops promptly on SIGTERM. */
const SERVICE = (banner: string) => [
  "sh",
  "-c",
  `echo ${banner}; trap 'exit 0' TERM; while :; do sleep 1; done`,
];

Deno.test("runbook ssh-container-rollout: success branch and roll-back branch", async (t) => {
  const text = await Deno.readTextFile(RUNBOOK);
  for (
    const call of [
      "ssh_docker_inspect(",
      "ssh_docker_pull(",
      "ssh_docker_images(",
      "ssh_docker_stop(",
      "ssh_docker_run(",
      "check=True",
      "ssh_docker_logs(",
      "ssh_docker_start(",
      "ssh_docker_rm(",
      "## 8. Roll back",
    ]
  ) {
    assert.ok(text.includes(call), `the runbook no longer mentions ${call}`);
  }
  // the old and the failed versions stay stopped between steps: no prune of another module
  // may remove them meanwhile (bedLock)
  await withDockerFleet(async ({ bed, s }) => {
    const p = uniqueName("sshmcp-rb");
    const repo = `localhost/${p}-web`;
    await bed.docker(["tag", bed.image, `${repo}:1`]);
    await bed.docker(["tag", bed.image, `${repo}:2`]);
    await bed.docker(["tag", bed.image, `${repo}:3`]);
    const old = `${p}-web`;
    const made = [old, `${p}-web-2`, `${p}-web-3`];
    const flags = [
      "--restart",
      "unless-stopped",
      "--network",
      "none",
      "-e",
      "MODE=prod",
      "-l",
      "app=web",
    ];
    const host = "h1";
    try {
      const first = await s.ok<R>("ssh_docker_run", {
        host,
        image: `${repo}:1`,
        name: old,
        remove: false,
        detached: true,
        run_options: flags,
        args: SERVICE("ready-v1"),
      });
      assert.equal(first.exit_code, 0, String(first.stderr));

      /** Steps 1-5 of the runbook for `tag`; returns the new container's name. */
      const rollOut = async (tag: string, args: string[]) => {
        await s.ok("ssh_host_ping", { host });
        const ps = await s.ok<{ containers: R[] }>("ssh_docker_ps", {
          host,
          all_: true,
          name: old,
        });
        assert.ok(ps.containers.length >= 1);
        const insp = await s.ok<{ objects: R[] }>("ssh_docker_inspect", { host, target: old });
        const rec = insp.objects[0]!;
        const recorded = {
          image: (rec.Config as R).Image,
          imageId: rec.Image,
          restart: ((rec.HostConfig as R).RestartPolicy as R).Name,
        };
        assert.equal(recorded.image, `${repo}:1`);
        assert.equal(recorded.restart, "unless-stopped");
        const pull = await s.ok<{ plan: { before: R } }>("ssh_docker_pull", {
          host,
          image: `${repo}:${tag}`,
          check: true,
        });
        assert.equal(pull.plan.before.present, true, "the new image is on the host");
        const imgs = await s.ok<{ images: R[] }>("ssh_docker_images", { host, reference: repo });
        assert.ok(imgs.images.some((i) => i.Tag === tag));
        const name = `${p}-web-${tag}`;
        const stopPlan = await s.ok<{ plan: { changes: boolean } }>("ssh_docker_stop", {
          host,
          container: old,
          check: true,
        });
        assert.equal(stopPlan.plan.changes, true);
        const run = {
          host,
          image: `${repo}:${tag}`,
          name,
          remove: false,
          detached: true,
          run_options: flags,
          args,
        };
        const runPlan = await s.ok<{ plan: { changes: boolean; before: R } }>("ssh_docker_run", {
          ...run,
          check: true,
        });
        assert.deepEqual([runPlan.plan.changes, runPlan.plan.before.name_in_use], [true, false]);
        const stop = await s.ok<R>("ssh_docker_stop", { host, container: old });
        assert.equal(stop.exit_code, 0);
        const started = await s.ok<R>("ssh_docker_run", run);
        assert.equal(started.exit_code, 0, String(started.stderr));
        return { name, recorded };
      };

      /** Step 6: healthy = running with no restart, and the ready line in the logs. */
      const verify = async (name: string, ready: string) => {
        const i = await s.ok<{ objects: R[] }>("ssh_docker_inspect", { host, target: name });
        const st = i.objects[0]!.State as R;
        const logs = await s.ok<R>("ssh_docker_logs", { host, container: name, tail: 100 });
        await s.ok("ssh_docker_top", { host, container: name }).catch(() => null);
        return st.Status === "running" && (i.objects[0]!.RestartCount ?? 0) === 0 &&
          String(logs.stdout).includes(ready);
      };

      await t.step(
        "roll-back branch: the new version fails; stop it, start the old one",
        async () => {
          const { name } = await rollOut("3", ["sh", "-c", "echo boot-failure; exit 1"]);
          await bed.docker(["wait", name]); // the broken version has exited at least once
          assert.equal(
            await verify(name, "ready-v3"),
            false,
            "a failing version passed verification",
          );
          const stopNew = await s.ok<R>("ssh_docker_stop", { host, container: name });
          assert.equal(stopNew.exit_code, 0);
          const start = await s.ok<R>("ssh_docker_start", { host, container: old });
          assert.equal(start.exit_code, 0, String(start.stderr));
          const ps = await s.ok<{ containers: R[] }>("ssh_docker_ps", { host, name: old });
          assert.ok(ps.containers.some((c) => String(c.Names).split(",").includes(old)));
          const logs = await s.ok<R>("ssh_docker_logs", { host, container: old, tail: 50 });
          assert.match(String(logs.stdout), /ready-v1/);
          const failed = await s.ok<R>("ssh_docker_logs", { host, container: name, tail: 20 });
          assert.match(
            String(failed.stdout),
            /boot-failure/,
            "the failed container is kept for diagnosis",
          );
        },
      );

      await t.step(
        "success branch: verified new version kept, old container removed after check",
        async () => {
          const { name } = await rollOut("2", SERVICE("ready-v2"));
          let healthy = false;
          for (let i = 0; i < 50 && !healthy; i++) {
            healthy = await verify(name, "ready-v2");
            if (!healthy) await new Promise((r) => setTimeout(r, 100));
          }
          assert.ok(healthy, "the new version did not become healthy");
          const rmPlan = await s.ok<{ plan: { changes: boolean } }>("ssh_docker_rm", {
            host,
            container: old,
            check: true,
          });
          assert.equal(rmPlan.plan.changes, true);
          const rm = await s.ok<R>("ssh_docker_rm", { host, container: old });
          assert.equal(rm.exit_code, 0, String(rm.stderr));
          const img = await bed.docker(["image", "inspect", `${repo}:1`]);
          assert.equal(img.code, 0, "the previous image must stay for a later roll-back");
        },
      );
    } finally {
      await removeContainers(bed, made);
      await bed.docker(["rmi", "-f", `${repo}:1`, `${repo}:2`, `${repo}:3`]);
    }
  }, { bedLock: "shared" });
});
