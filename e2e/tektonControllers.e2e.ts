// A push through the real Tekton. The stack is applied for real; then Tekton's own Pipelines
// controller, Triggers EventListener sink (with the EventListener's ServiceAccount token) and
// core interceptors (github: the signature; cel: the stack's filter and overlays) run as local
// processes against the local control plane. A signed push posted to the sink makes the
// PipelineRun; the controller makes the TaskRuns and their Pods; the test plays the kubelet,
// running each Pod's step scripts as Tekton wrote them into the Pod, with stand-in git (GitHub
// replaced by a local repository) and buildah, and the deploy step with the pipeline
// ServiceAccount's own token against the API server. Each Pod is compared with what the fast
// tier's Tekton resolver predicts from the same objects.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  pipelineCodeName,
  PIPELINE_SCRIPTS,
  PIPELINE_TASK_NAMES,
} from "../components/build/buildPipelineManifests";
import { PIPELINE_RESULTS, pipelineResourceNames } from "../common/pipelineContract";
import { STAND_IN_SECRETS } from "../conformance/programRunner";
import { resolvePipelineRun } from "../test/support/tektonResolver";
import { githubDelivery } from "../test/support/triggersEmulator";
import type { Manifest } from "../common/json";
import { AuditLog } from "./support/audit";
import { deployDevStack, stopAfterEach } from "./support/fixtures";
import {
  serviceAccountToken,
  serviceAccountTokenFile,
  serviceAccountUser,
} from "./support/inClusterProcess";
import { playConfigurations } from "./support/knativePlayers";
import { Kube, KubeObject } from "./support/kube";
import { playKubelet, PodRun } from "./support/kubelet";
import { canI, kubectlAs, rightsReport } from "./support/rights";
import { RealTier, startRealTier, stopRealTier } from "./support/realTier";
import { startTekton, Tekton } from "./support/tekton";
import { COMPONENTS } from "../toolchain/toolchain";

const APP = "shop";
const NAMESPACE = "shop";
const REPOSITORY = "https://github.com/acme/shop.git";
const DIGEST = `sha256:${"c0ffee".repeat(10)}abcd`;
const COMMITTED_AT = "2026-11-30T10:00:00+01:00";
const NAMES = pipelineResourceNames(APP);
/** The step program each Task's Pod must run, as the stack embedded it. */
const SCRIPTS: Readonly<Record<string, string>> = {
  [PIPELINE_TASK_NAMES.fetchSource]: PIPELINE_SCRIPTS.fetchSource,
  [PIPELINE_TASK_NAMES.buildImage]: PIPELINE_SCRIPTS.buildImage,
  [PIPELINE_TASK_NAMES.deployRevision]: PIPELINE_SCRIPTS.deployRevision,
};

/**
 * What the EventListener's ServiceAccount may do beyond what the sink called here: only get and
 * list of the kinds its informers watch (components/shared/rbac.ts, EVENT_LISTENER_RULES and
 * EVENT_LISTENER_CLUSTER_RULES).
 */
const LISTENER_EXTRA_RIGHTS: readonly string[] = [
  // The sink's informers: this API server streams their initial list in the watch, and list
  // is their fallback where a server does not (issue 15 removed everything else it never called).
  ...["clusterinterceptors", "clustertriggerbindings"].flatMap((kind) =>
    ["get", "list"].map((verb) => `${verb} ${kind}.triggers.tekton.dev (cluster-scoped)`),
  ),
  ...["eventlisteners", "interceptors", "triggerbindings", "triggers", "triggertemplates"].flatMap(
    (kind) => ["get", "list"].map((verb) => `${verb} ${kind}.triggers.tekton.dev -n shop`),
  ),
].sort();

/** A local repository with one commit (its SHA is the push's), and stand-ins for git and buildah. */
function standIns(dir: string): { sha: string; tools: string; buildahLog: string } {
  const repo = path.join(dir, "upstream");
  fs.mkdirSync(repo, { recursive: true });
  fs.writeFileSync(path.join(repo, "Dockerfile"), "FROM scratch\nCOPY app /app\n");
  fs.writeFileSync(path.join(repo, "app"), "hello\n");
  const git = (...args: string[]): string =>
    execFileSync("git", args, {
      cwd: repo,
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "Dev",
        GIT_AUTHOR_EMAIL: "dev@example.com",
        GIT_AUTHOR_DATE: COMMITTED_AT,
        GIT_COMMITTER_NAME: "Dev",
        GIT_COMMITTER_EMAIL: "dev@example.com",
        GIT_COMMITTER_DATE: COMMITTED_AT,
      },
    }).trim();
  git("init", "-q");
  git("add", ".");
  git("commit", "-q", "-m", "first");
  const sha = git("rev-parse", "HEAD");

  const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  const tools = path.join(dir, "tools");
  fs.mkdirSync(tools);
  const buildahLog = path.join(dir, "buildah.log");
  // git: GitHub's clone URL answered by the local repository, everything else as given.
  fs.writeFileSync(
    path.join(tools, "git"),
    [
      "#!/bin/sh",
      'for arg in "$@"; do',
      `  if [ "$arg" = "${REPOSITORY}" ]; then set -- "$@" "file://${repo}"; else set -- "$@" "$arg"; fi`,
      "  shift",
      "done",
      `GIT_ALLOW_PROTOCOL=file exec ${realGit} "$@"`,
    ].join("\n"),
    { mode: 0o755 },
  );
  // buildah: records its arguments and the build context, reports the digest.
  fs.writeFileSync(
    path.join(tools, "buildah"),
    [
      "#!/bin/sh",
      `for arg in "$@"; do echo "$arg"; done >>"${buildahLog}"`,
      `echo "auth=\${REGISTRY_AUTH_FILE:-}" >>"${buildahLog}"`,
      'for arg in "$@"; do',
      `  case "$arg" in --digestfile=*) printf "%s\\n" "${DIGEST}" >"\${arg#--digestfile=}";; esac`,
      "done",
    ].join("\n"),
    { mode: 0o755 },
  );
  return { sha, tools, buildahLog };
}

describe("a push through the real Tekton (controller, EventListener sink, core interceptors)", function () {
  let tier: RealTier | undefined;
  let tekton: Tekton | undefined;
  let audit: AuditLog;

  before(async function () {
    this.timeout(90 * 60 * 1000);
    tier = await startRealTier(this, COMPONENTS);
    await deployDevStack(tier, APP, {
      "canary-release:github": {
        owner: "acme",
        repository: "shop",
        branch: "main",
        registerWebhook: false,
      },
    });
    audit = new AuditLog(path.join(tier.plane.dir, "audit.log"));
  });
  /** What the test started, stopped after it however it ended. */
  const cleanup = stopAfterEach();
  after(async () => {
    await tekton?.stop();
    stopRealTier(tier);
  });

  it("a signed push builds and deploys: each Pod as Tekton resolved it, run with stand-in tools", async function () {
    this.timeout(5 * 60 * 1000);
    if (tier === undefined) throw new Error("no tier");
    const { plane, kube } = tier;
    const listeners = (await kube.list(
      `/apis/triggers.tekton.dev/v1beta1/namespaces/${NAMESPACE}/eventlisteners`,
    )) as (KubeObject & { spec: { serviceAccountName: string } })[];
    assert.equal(listeners.length, 1);
    const listener = listeners[0];
    const listenerToken = serviceAccountToken(tier, NAMESPACE, listener.spec.serviceAccountName);
    tekton = await startTekton(tier, {
      namespace: NAMESPACE,
      name: listener.metadata.name,
      token: listenerToken,
    });

    const work = fs.mkdtempSync(path.join(tier.dir, "push-"));
    const { sha, tools, buildahLog } = standIns(work);
    const controllers = new Kube(plane, plane.controllerToken);
    const configurations = playConfigurations({ kube: controllers, plane, namespace: NAMESPACE });
    const pipelineToken = serviceAccountTokenFile(tier, NAMESPACE, NAMES.pipelineServiceAccount);
    const apiUrl = new URL(plane.server);
    const kubelet = playKubelet({
      kube: controllers,
      plane,
      namespace: NAMESPACE,
      root: path.join(work, "kubelet"),
      toolsDir: tools,
      // What the kubelet adds to every container; the token is the pipeline's ServiceAccount's
      // (each Pod's serviceAccountName is checked below).
      extraEnv: () => ({
        KUBERNETES_SERVICE_HOST: apiUrl.hostname,
        KUBERNETES_SERVICE_PORT: apiUrl.port,
        KUBERNETES_TOKEN_FILE: pipelineToken,
        KUBERNETES_CA_FILE: plane.caFile,
      }),
    });
    cleanup.push(
      () => configurations.stop(),
      () => kubelet.stop(),
    );
    await Promise.all([configurations.ready, kubelet.ready]);

    const push = (payload: Record<string, unknown>, secret: string) => {
      const delivery = githubDelivery("push", payload, secret);
      return fetch(tekton!.sinkUrl, {
        method: "POST",
        headers: delivery.headers,
        body: delivery.body,
        signal: AbortSignal.timeout(10_000),
      });
    };
    const payload = {
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: sha,
      deleted: false,
      repository: { full_name: "acme/shop", clone_url: REPOSITORY },
      head_commit: { id: sha, timestamp: COMMITTED_AT },
    };
    // Refused by the interceptors: a wrong signature (github), another branch (cel).
    await push(payload, "not-the-webhook-secret");
    await push(
      { ...payload, ref: "refs/heads/feature" },
      STAND_IN_SECRETS["canary-release:webhookSecret"],
    );
    const posted = Date.now();
    const answer = await push(payload, STAND_IN_SECRETS["canary-release:webhookSecret"]);
    assert.equal(answer.status, 202, await answer.text());

    const pipelineRunsPath = `/apis/tekton.dev/v1/namespaces/${NAMESPACE}/pipelineruns`;
    let pipelineRun: KubeObject | undefined;
    let createdAfterMs = 0;
    const deadline = Date.now() + 180_000;
    for (;;) {
      const runs = (await kube.list(pipelineRunsPath)) as KubeObject[];
      assert.ok(runs.length <= 1, `one PipelineRun, not ${runs.length}`);
      if (runs.length === 1 && createdAfterMs === 0) createdAfterMs = Date.now() - posted;
      const conditions =
        (runs[0]?.status as { conditions?: { type: string; status: string }[] })?.conditions ?? [];
      const done = conditions.find((c) => c.type === "Succeeded" && c.status !== "Unknown");
      if (done !== undefined) {
        pipelineRun = runs[0];
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the PipelineRun did not finish: ${JSON.stringify(runs[0]?.status ?? "none")}; ` +
            `kubelet: ${JSON.stringify(kubelet.errors)}; sink: ${JSON.stringify(tekton.sink.lines.slice(-5))}; ` +
            `controller: ${JSON.stringify(tekton.controller.lines.slice(-5))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const finishedAfterMs = Date.now() - posted;
    await kubelet.stop();
    await configurations.stop();

    const outcomeText = (run: PodRun) =>
      run.outcomes.map((o) => `${o.step}: ${o.code}\n${o.stdout}\n${o.stderr}`).join("\n");
    const status = pipelineRun.status as {
      conditions: { status: string; message?: string }[];
      results?: { name: string; value: string }[];
    };
    assert.equal(
      status.conditions[0].status,
      "True",
      `${JSON.stringify(status.conditions)}\n${kubelet.runs.map(outcomeText).join("\n")}`,
    );
    assert.deepEqual(kubelet.errors, []);

    // What the fast tier's resolver predicts from the objects the API server holds.
    const pipeline = (await kube.ok(
      "GET",
      `/apis/tekton.dev/v1/namespaces/${NAMESPACE}/pipelines/${NAMES.pipeline}`,
    )) as Manifest;
    const tasks = (await kube.list(
      `/apis/tekton.dev/v1/namespaces/${NAMESPACE}/tasks`,
    )) as Manifest[];
    const predicted = resolvePipelineRun(pipelineRun as unknown as Manifest, pipeline, tasks, {
      namespace: NAMESPACE,
      taskResults: {
        [PIPELINE_TASK_NAMES.buildImage]: { [PIPELINE_RESULTS.imageDigest]: DIGEST },
      },
    });

    const order = kubelet.runs.map(
      (run) => (run.pod.metadata.labels as Record<string, string>)["tekton.dev/pipelineTask"],
    );
    assert.deepEqual(order, [
      PIPELINE_TASK_NAMES.fetchSource,
      PIPELINE_TASK_NAMES.buildImage,
      PIPELINE_TASK_NAMES.deployRevision,
    ]);
    for (const run of kubelet.runs) {
      const task = (run.pod.metadata.labels as Record<string, string>)["tekton.dev/pipelineTask"];
      assert.equal(run.pod.spec.serviceAccountName, NAMES.pipelineServiceAccount, task);
      const expected = predicted.find((p) => p.pipelineTask === task);
      assert.ok(expected, `the resolver predicts ${task}`);
      assert.equal(run.steps.length, expected.steps.length, task);
      run.steps.forEach((step, i) => {
        assert.equal(step.name, expected.steps[i].name, task);
        assert.equal(step.script, SCRIPTS[task], `${task}: the script in the Pod is the stack's`);
        assert.deepEqual(step.env, expected.steps[i].env, `${task}/${step.name}: env as predicted`);
      });
      assert.ok(
        run.outcomes.every((o) => o.code === 0),
        `${task} ran with stand-in tools:\n${outcomeText(run)}`,
      );
    }
    // The workspaces, as Tekton bound and mounted them.
    const [fetched, built, deployed] = kubelet.runs;
    assert.equal(fetched.steps[0].env.SOURCE_DIR, "/workspace/source");
    assert.match(outcomeText(fetched), new RegExp(`at ${sha} in `));
    assert.equal(built.steps[0].env.DOCKERCONFIG_BOUND, "false", "no credentials: unbound");
    assert.equal(built.steps[0].env.DOCKERCONFIG_PATH, "");
    assert.equal(built.steps[0].env.DIGEST_FILE, `/tekton/results/${PIPELINE_RESULTS.imageDigest}`);
    const buildah = fs.readFileSync(buildahLog, "utf8");
    assert.match(buildah, /^auth=$/m, "anonymous push");
    assert.equal(
      deployed.steps[0].env.IMAGE_DIGEST,
      DIGEST,
      "the build's result reached the deploy",
    );
    assert.equal(deployed.steps[0].env.NAMESPACE, NAMESPACE);
    // Its program came from the pipeline's code ConfigMap, mounted as the Task asks.
    assert.deepEqual(
      (deployed.pod.spec.volumes ?? []).map((volume) => volume.configMap?.name).filter(Boolean),
      [pipelineCodeName(APP)],
    );
    assert.equal(deployed.results[PIPELINE_RESULTS.revisionName], `${APP}-${sha.slice(0, 7)}`);

    // The deploy step wrote the Configuration with the pipeline's own token.
    const configuration = (await kube.ok(
      "GET",
      `/apis/serving.knative.dev/v1/namespaces/${NAMESPACE}/configurations/${APP}`,
    )) as {
      spec: { template: { metadata: { name: string }; spec: { containers: { image: string }[] } } };
    };
    assert.equal(configuration.spec.template.metadata.name, `${APP}-${sha.slice(0, 7)}`);
    assert.match(configuration.spec.template.spec.containers[0].image, new RegExp(`@${DIGEST}$`));
    assert.deepEqual(configurations.revisions, [`${APP}-${sha.slice(0, 7)}`]);

    // The refused pushes: judged by the interceptors, and nothing made of them.
    const judged = tekton.interceptors.lines.map((line) => String(line.msg));
    assert.ok(
      judged.some((msg) => /Continue:false .*payload signature check failed/.test(msg)),
      "the github interceptor refused the wrong signature",
    );
    assert.ok(
      judged.some((msg) => /Continue:false .*refs\/heads\/main.* did not return true/.test(msg)),
      "the cel interceptor refused the other branch",
    );
    assert.equal((await kube.list(pipelineRunsPath)).length, 1, "the refused pushes made nothing");

    // Stopped first: a watch is logged when it ends, and informers list by watching.
    const listenerUser = serviceAccountUser(NAMESPACE, listener.spec.serviceAccountName);
    await tekton.stop();
    tekton = undefined;
    await audit.watchesEnded(listenerUser);
    const events = audit.since();
    const pipelineUser = serviceAccountUser(NAMESPACE, NAMES.pipelineServiceAccount);
    assert.ok(
      events.some(
        (e) =>
          e.user.username === pipelineUser &&
          e.verb === "create" &&
          e.objectRef?.resource === "configurations",
      ),
      "the Configuration was created by the pipeline's ServiceAccount",
    );
    console.log(
      `      push → PipelineRun in ${createdAfterMs} ms, → Succeeded in ${finishedAfterMs} ms ` +
        `(3 TaskRuns, their Pods run here); the two refused pushes made nothing`,
    );

    // The EventListener's rights, from what the real sink called with its token.
    const report = rightsReport(tier, events, "eventlistener", listenerUser, NAMESPACE);
    console.log(`      rights (kubectl auth can-i --as=${listenerUser}):`);
    for (const row of report.rows) console.log(`        ${row}`);
    assert.deepEqual(report.refused, [], "calls of the sink that RBAC refuses");
    assert.deepEqual(report.overreach, [], "Secrets or writes in other namespaces");
    assert.deepEqual(report.elsewhere, [], "rights in another namespace");
    assert.deepEqual(report.extra, LISTENER_EXTRA_RIGHTS, "rights beyond the sink's calls");
    // Issue 15, fault 10: an internet-facing pod impersonates no one, the pipeline's and the
    // tester's accounts included.
    for (const account of [NAMES.pipelineServiceAccount, `${APP}-tester`]) {
      const call = { verb: "impersonate", resource: "serviceaccounts", namespace: NAMESPACE };
      assert.equal(canI(tier, listenerUser, { ...call, name: account }), false, account);
      console.log(`        eventlistener no   impersonate serviceaccounts/${account}  (must not)`);
    }
    // Its `create pipelineruns` is limited by an admission policy: the sink's own run passed
    // it above; a run of another pipeline, or as another account, is refused (dry runs).
    const t = tier;
    const createAsListener = (spec: Record<string, unknown>) =>
      kubectlAs(
        t,
        listenerUser,
        ["create", "-f", "-", "--dry-run=server"],
        JSON.stringify({
          apiVersion: "tekton.dev/v1",
          kind: "PipelineRun",
          metadata: { generateName: `${APP}-forged-`, namespace: NAMESPACE },
          spec,
        }),
      );
    const forged: Record<string, Record<string, unknown>> = {
      "an inline pipelineSpec": {
        pipelineSpec: { tasks: [{ name: "x", taskRef: { name: NAMES.tasks.deployRevision } }] },
        taskRunTemplate: { serviceAccountName: NAMES.pipelineServiceAccount },
      },
      "the app's Pipeline as the tester": {
        pipelineRef: { name: NAMES.pipeline },
        taskRunTemplate: { serviceAccountName: `${APP}-tester` },
      },
    };
    for (const [what, spec] of Object.entries(forged)) {
      const refused = createAsListener(spec);
      assert.notEqual(refused.status, 0, `${what}: ${refused.stdout}`);
      assert.match(refused.stderr, /may create only PipelineRuns of the Pipeline/, what);
      console.log(
        `        eventlistener no   create pipelineruns (${what})  (refused by the policy)`,
      );
    }
    const own = createAsListener({
      pipelineRef: { name: NAMES.pipeline },
      taskRunTemplate: { serviceAccountName: NAMES.pipelineServiceAccount },
    });
    assert.equal(own.status, 0, `the app's own run: ${own.stderr}`);
  });
});
