/**
 * docs/security/cheatsheet.md CHEAT-9..14: the exact docker call a cheatsheet
 * hit names, built from the command's words (pure matcher; the checker-level
 * refusal attributes are in cheatsheet_calls_test.ts).
 */

import assert from "node:assert/strict";
import { type CheatsheetHit, matchCheatsheet } from "../../src/policy/cheatsheet.ts";

function hit(cmd: string, host = "web1"): CheatsheetHit | null {
  return matchCheatsheet(cmd, { redactListed: () => false, host });
}

/** The hit names `tool` and exactly `call`; every `notes` pattern matches one note. */
function expectCall(cmd: string, tool: string, call: string, notes: RegExp[] = []) {
  const h = hit(cmd);
  assert.ok(h, `no hit for ${JSON.stringify(cmd)}`);
  assert.equal(h.suggestedTool, tool, cmd);
  assert.equal(h.suggestedCall, call, cmd);
  for (const n of notes) {
    assert.ok(
      h.notes?.some((x) => n.test(x)),
      `${cmd}: no note ${n} in ${JSON.stringify(h.notes)}`,
    );
  }
}

/** The hit names `tool` but no exact call. */
function expectToolOnly(cmd: string, tool: string) {
  const h = hit(cmd);
  assert.ok(h, `no hit for ${JSON.stringify(cmd)}`);
  assert.equal(h.suggestedTool, tool, cmd);
  assert.equal(h.suggestedCall, undefined, cmd);
  assert.equal(h.notes, undefined, cmd);
}

Deno.test("CHEAT-9/CHEAT-12: the examples of the brief", () => {
  expectCall(
    "docker logs --tail 100 web",
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="web", tail=100)',
  );
  expectCall("docker ps -a", "ssh_docker_ps", 'ssh_docker_ps(host="web1", all_=true)');
  expectCall(
    "docker system prune",
    "ssh_docker_prune",
    'ssh_docker_prune(host="web1", scope="system", check=true)',
    [/check=true lists what would be removed/, /never volumes/],
  );
  expectCall(
    "docker volume prune",
    "ssh_docker_prune",
    'ssh_docker_prune(host="web1", scope="volume", check=true)',
    [/confirm_volume_prune=true, which needs a human decision/],
  );
});

Deno.test("CHEAT-10: docker, podman, docker-compose, podman-compose; after sudo and env; bare words only", () => {
  expectCall("sudo docker ps", "ssh_docker_ps", 'ssh_docker_ps(host="web1")');
  expectCall("sudo -u root docker ps -a", "ssh_docker_ps", 'ssh_docker_ps(host="web1", all_=true)');
  expectCall("podman ps --all", "ssh_docker_ps", 'ssh_docker_ps(host="web1", all_=true)', [
    /may be podman/,
  ]);
  expectCall(
    "env DOCKER_HOST=unix:///x TOKEN=s3cr3t docker logs web",
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="web")',
    [/environment of the command is not carried over \(DOCKER_HOST, TOKEN\)/],
  );
  const h = hit("env TOKEN=s3cr3t docker ps")!;
  assert.ok(!JSON.stringify(h).includes("s3cr3t"), "an environment value is echoed");
  expectCall("sudo env A=1 docker images", "ssh_docker_images", 'ssh_docker_images(host="web1")');
  expectCall(
    "docker-compose -f /srv/app/docker-compose.yml ps",
    "ssh_docker_compose_ps",
    'ssh_docker_compose_ps(host="web1", compose_file="/srv/app/docker-compose.yml", compose_v1=true)',
  );
  expectCall(
    "podman-compose -f /srv/a.yml up -d",
    "ssh_docker_compose_up",
    'ssh_docker_compose_up(host="web1", compose_file="/srv/a.yml", compose_v1=true)',
  );
  // CHEAT-8 still holds: quoted or path-qualified programs, and NAME=value prefixes without env
  for (const c of ['"docker" ps', "/usr/bin/docker ps", "DOCKER_HOST=x docker ps", "dockerd -D"]) {
    assert.equal(hit(c), null, c);
  }
});

Deno.test("CHEAT-11: global options before the sub-command are skipped (changes CHEAT-6's second word)", () => {
  const note = /global options are not carried over/;
  expectCall("docker -H tcp://10.0.0.5:2375 ps", "ssh_docker_ps", 'ssh_docker_ps(host="web1")', [
    note,
  ]);
  expectCall(
    "docker --host=ssh://x ps -a",
    "ssh_docker_ps",
    'ssh_docker_ps(host="web1", all_=true)',
  );
  expectCall(
    "docker --context prod logs web",
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="web")',
    [/--context prod/],
  );
  expectCall("podman --remote ps", "ssh_docker_ps", 'ssh_docker_ps(host="web1")', [note]);
  expectCall("docker -D --tls images", "ssh_docker_images", 'ssh_docker_images(host="web1")');
  // an unknown global option: the sub-command is not known, so the family text
  expectToolOnly("docker --weird x ps", "ssh_docker_* family");
  expectToolOnly("docker --version", "ssh_docker_* family");
});

Deno.test("CHEAT-12: management forms", () => {
  for (const c of ["docker container ls", "docker container ps", "docker container list"]) {
    expectCall(c, "ssh_docker_ps", 'ssh_docker_ps(host="web1")');
  }
  expectCall("docker container ls -a", "ssh_docker_ps", 'ssh_docker_ps(host="web1", all_=true)');
  expectCall(
    "docker container inspect web",
    "ssh_docker_inspect",
    'ssh_docker_inspect(host="web1", target="web")',
  );
  expectCall(
    "docker container logs -n 20 web",
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="web", tail=20)',
  );
  for (const v of ["start", "stop", "restart"]) {
    expectCall(
      `docker container ${v} web`,
      `ssh_docker_${v}`,
      `ssh_docker_${v}(host="web1", container="web")`,
    );
  }
  expectCall(
    "docker container rm -f web",
    "ssh_docker_rm",
    'ssh_docker_rm(host="web1", container="web", force=true)',
  );
  expectCall(
    "docker container exec web uptime",
    "ssh_docker_exec",
    'ssh_docker_exec(host="web1", container="web", command="uptime")',
  );
  expectCall(
    "docker container run --rm alpine true",
    "ssh_docker_run",
    'ssh_docker_run(host="web1", image="alpine", args=["true"], remove=true)',
  );
  expectCall(
    "docker container top web",
    "ssh_docker_top",
    'ssh_docker_top(host="web1", container="web")',
  );
  expectCall("docker container stats", "ssh_docker_stats", 'ssh_docker_stats(host="web1")');
  expectCall(
    "docker container cp ./app.conf web:/etc/app.conf",
    "ssh_docker_cp",
    'ssh_docker_cp(host="web1", container="web", container_path="/etc/app.conf", host_path="./app.conf", direction="to_container")',
  );
  expectCall(
    "docker container prune -f",
    "ssh_docker_prune",
    'ssh_docker_prune(host="web1", scope="container", check=true)',
  );
  expectCall("docker image ls", "ssh_docker_images", 'ssh_docker_images(host="web1")');
  expectCall(
    "docker image pull nginx:1.25",
    "ssh_docker_pull",
    'ssh_docker_pull(host="web1", image="nginx:1.25")',
  );
  expectCall(
    "docker image rm nginx:1",
    "ssh_docker_rmi",
    'ssh_docker_rmi(host="web1", image="nginx:1")',
  );
  expectCall(
    "docker image inspect nginx",
    "ssh_docker_inspect",
    'ssh_docker_inspect(host="web1", target="nginx", kind="image")',
  );
  expectCall(
    "docker image prune -a",
    "ssh_docker_prune",
    'ssh_docker_prune(host="web1", scope="image", all_=true, check=true)',
  );
  expectCall("docker volume ls", "ssh_docker_volumes", 'ssh_docker_volumes(host="web1")');
  expectCall("docker volume", "ssh_docker_volumes", 'ssh_docker_volumes(host="web1")');
  expectCall(
    "docker volume inspect data",
    "ssh_docker_volumes",
    'ssh_docker_volumes(host="web1", name="data")',
  );
  expectCall("docker system df", "ssh_docker_system_df", 'ssh_docker_system_df(host="web1")');
  expectCall(
    "docker network inspect br0",
    "ssh_docker_inspect",
    'ssh_docker_inspect(host="web1", target="br0", kind="network")',
  );
  expectCall(
    "docker network prune",
    "ssh_docker_prune",
    'ssh_docker_prune(host="web1", scope="network", check=true)',
  );
  // no tool fits: the family text, no call
  for (
    const c of [
      "docker network ls",
      "docker volume create x",
      "docker system info",
      "docker image build .",
    ]
  ) {
    expectToolOnly(c, "ssh_docker_* family");
  }
});

Deno.test("CHEAT-12: top-level sub-commands and their options", () => {
  expectCall(
    "docker ps --filter status=exited -f name=web --filter label=a=b --filter ancestor=nginx",
    "ssh_docker_ps",
    'ssh_docker_ps(host="web1", status="exited", name="web", label="a=b", ancestor="nginx")',
  );
  expectCall("docker ps --filter health=ok", "ssh_docker_ps", 'ssh_docker_ps(host="web1")', [
    /does not take the filter\(s\) health=ok/,
  ]);
  expectCall(
    "docker images --filter dangling=true",
    "ssh_docker_images",
    'ssh_docker_images(host="web1", dangling=true)',
  );
  expectCall(
    "docker logs --since 15m -t --tail=5 web",
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="web", tail=5, since="15m", timestamps=true)',
  );
  expectCall(
    "docker logs -f web",
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="web")',
    [
      /does not follow/,
    ],
  );
  expectCall(
    "docker logs --tail all web",
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="web")',
    [
      /tail takes a whole number 1\.\.10000 \(the command gave all\)/,
    ],
  );
  expectCall(
    "docker inspect -f '{{.State}}' web db",
    "ssh_docker_inspect",
    'ssh_docker_inspect(host="web1", target="web")',
    [/no --format template/, /once more for db/],
  );
  expectCall(
    "docker top web -o pid,args",
    "ssh_docker_top",
    'ssh_docker_top(host="web1", container="web", ps_options="-o pid,args")',
  );
  expectCall(
    "docker events --since 10m --filter type=container",
    "ssh_docker_events",
    'ssh_docker_events(host="web1", since="10m", filters=["type=container"])',
  );
  expectCall(
    "docker kill web db",
    "ssh_docker_stop",
    'ssh_docker_stop(host="web1", container="web")',
    [
      /SIGTERM, then SIGKILL/,
      /once more for db/,
    ],
  );
  expectCall(
    "docker rmi -f img",
    "ssh_docker_rmi",
    'ssh_docker_rmi(host="web1", image="img", force=true)',
  );
  expectCall(
    "docker pull -q alpine",
    "ssh_docker_pull",
    'ssh_docker_pull(host="web1", image="alpine")',
  );
  expectCall(
    "docker cp web:/var/log/app.log /tmp/app.log",
    "ssh_docker_cp",
    'ssh_docker_cp(host="web1", container="web", container_path="/var/log/app.log", host_path="/tmp/app.log", direction="from_container")',
  );
  expectToolOnly("docker cp a b", "ssh_docker_cp");
  expectToolOnly("docker logs --weird web", "ssh_docker_logs");
  expectCall("docker logs", "ssh_docker_logs", 'ssh_docker_logs(host="web1")', [
    /container= is required/,
  ]);
});

Deno.test("CHEAT-12: exec and run", () => {
  expectCall(
    "docker exec -it web sh -c 'ls -la /tmp'",
    "ssh_docker_exec",
    'ssh_docker_exec(host="web1", container="web", command="ls -la /tmp", interactive=true)',
    [/no TTY/],
  );
  expectCall(
    `docker exec -u app web cat "/my dir/it's"`,
    "ssh_docker_exec",
    `ssh_docker_exec(host="web1", container="web", command="cat '/my dir/it'\\"'\\"'s'")`,
    [/not carried over.*-u app/],
  );
  expectCall(
    "docker run -d --name web -p 8080:80 --restart=unless-stopped -e A=1 --privileged nginx:1.25 nginx -g 'daemon off;'",
    "ssh_docker_run",
    'ssh_docker_run(host="web1", image="nginx:1.25", args=["nginx", "-g", "daemon off;"], name="web", remove=false, detached=true, run_options=["-p", "8080:80", "--restart=unless-stopped", "-e", "A=1"])',
    [/does not accept --privileged/],
  );
  expectCall(
    "docker run --rm -it alpine sh",
    "ssh_docker_run",
    'ssh_docker_run(host="web1", image="alpine", args=["sh"], remove=true)',
    [/-i\/-t are not carried over/],
  );
  // short clusters: each option keeps its own text in run_options
  expectCall(
    "docker run -dp8080:80 -itv /srv/d:/d --rm img",
    "ssh_docker_run",
    'ssh_docker_run(host="web1", image="img", remove=true, detached=true, run_options=["-p8080:80", "-v", "/srv/d:/d"])',
  );
  // an unknown option might take a value: the image is not known for sure
  expectToolOnly("docker run --frobnicate x alpine", "ssh_docker_run");
});

Deno.test("CHEAT-13: compose v2 and v1, -f as compose_file", () => {
  expectCall(
    "docker compose -f /srv/app/compose.yml up -d --build",
    "ssh_docker_compose_up",
    'ssh_docker_compose_up(host="web1", compose_file="/srv/app/compose.yml", build=true)',
  );
  expectCall(
    "docker compose --file=/srv/c.yml down -v",
    "ssh_docker_compose_down",
    'ssh_docker_compose_down(host="web1", compose_file="/srv/c.yml", volumes=true)',
    [/deletes the project's volumes/],
  );
  expectCall(
    "docker-compose -f /srv/a.yml logs --tail 20 web",
    "ssh_docker_compose_logs",
    'ssh_docker_compose_logs(host="web1", compose_file="/srv/a.yml", service="web", tail=20, compose_v1=true)',
  );
  expectCall(
    "docker compose -f /srv/a.yml ps --status running api",
    "ssh_docker_compose_ps",
    'ssh_docker_compose_ps(host="web1", compose_file="/srv/a.yml", service="api", status="running")',
  );
  for (const v of ["pull", "start", "stop", "restart"]) {
    expectCall(
      `docker compose -f /srv/a.yml ${v}`,
      `ssh_docker_compose_${v}`,
      `ssh_docker_compose_${v}(host="web1", compose_file="/srv/a.yml")`,
    );
  }
  expectCall(
    "docker compose up -d",
    "ssh_docker_compose_up",
    'ssh_docker_compose_up(host="web1")',
    [
      /compose_file= is required/,
    ],
  );
  expectCall(
    "docker compose -f a.yml -f b.yml -p shop restart web",
    "ssh_docker_compose_restart",
    'ssh_docker_compose_restart(host="web1")',
    [/takes one compose_file/, /compose options not carried over: -p shop/, /not only web/],
  );
  expectToolOnly("docker compose config", "ssh_docker_compose_* family");
  expectToolOnly("docker compose", "ssh_docker_compose_* family");
  expectToolOnly("docker-compose version", "ssh_docker_compose_* family");
});

Deno.test("CHEAT-9: only literal words make a call; JSON strings; host as given; first command only", () => {
  expectToolOnly("docker logs $C", "ssh_docker_logs");
  expectToolOnly("docker logs web*", "ssh_docker_logs");
  expectToolOnly('docker ps "unterminated', "ssh_docker_ps");
  expectCall(
    `docker logs 'we"b x'`,
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="we\\"b x")',
  );
  const h = matchCheatsheet("docker ps", { redactListed: () => false, host: 'prod "db" 1' })!;
  assert.equal(h.suggestedCall, 'ssh_docker_ps(host="prod \\"db\\" 1")');
  expectCall(
    "docker logs web | grep error",
    "ssh_docker_logs",
    'ssh_docker_logs(host="web1", container="web")',
    [/replaces only the first command/],
  );
  // without the host argument: the tool only, as before
  assert.deepEqual(matchCheatsheet("docker logs web", { redactListed: () => false }), {
    patternId: "docker",
    suggestedTool: "ssh_docker_logs",
  });
});
