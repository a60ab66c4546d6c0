// The stack's in-cluster code as real processes with the stack's own identities: the revision
// tester and the pipeline's deploy step run with tokens of the ServiceAccounts the stack created
// (TokenRequest API), against the real API server, which checks their RBAC, schemas and
// resourceVersions. Their code is what the stack deployed: the ConfigMaps read back from the API
// server and laid out as the tester's Service and the deploy Task mount them. The test plays what Knative would do (the ApiServerSource adapter, the Route
// and Configuration controllers), and the audit log says what each identity called; from that the
// last test builds the table of rights.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { SMOKE_ROUTE_LABEL, testerNames } from "../components/tester/revisionTesterManifests";
import { kubectl } from "../toolchain/controlPlane";
import { pipelineResourceNames } from "../common/pipelineContract";
import { AuditEvent, AuditLog } from "./support/audit";
import { deployDevStack, stopAfterEach } from "./support/fixtures";
import {
  serviceAccountToken,
  serviceAccountTokenFile,
  serviceAccountUser,
  startScript,
  ScriptProcess,
  ConfigMapSource,
  mountConfigMap,
} from "./support/inClusterProcess";
import { playConfigurations, playRevisionSource, playSmokeRoutes } from "./support/knativePlayers";
import { Kube, KubeObject, watch } from "./support/kube";
import { writeRevisionStatus } from "./support/objects";
import { callsOf, canI, kubectlAs, rightsReport } from "./support/rights";
import { RealTier, runCommand, startRealTier, stopRealTier } from "./support/realTier";

const APP = "shop";
const NAMESPACE = "shop";
const SERVING = `/apis/serving.knative.dev/v1/namespaces/${NAMESPACE}`;
const MERGE_PATCH = "application/merge-patch+json";
/** Duplicates of every Revision event each tester process receives. */
const COPIES = 200;

const TESTER = testerNames(APP);
const PIPELINE_ACCOUNT = pipelineResourceNames(APP).pipelineServiceAccount;
const USERS = {
  tester: serviceAccountUser(NAMESPACE, TESTER.serviceAccount),
  source: serviceAccountUser(NAMESPACE, TESTER.sourceServiceAccount),
  pipeline: serviceAccountUser(NAMESPACE, PIPELINE_ACCOUNT),
};

/** Rights the stack grants beyond what the code calls; the next issues narrow them. */
const KNOWN_EXTRA_RIGHTS: Readonly<Record<keyof typeof USERS, readonly string[]>> = {
  tester: [],
  // The adapter lists and watches; Knative's docs ask for get, list and watch on the resources.
  source: ["get revisions.serving.knative.dev -n shop"],
  // Issue 15 removed the list and watch of Revisions that deploy-revision never called.
  pipeline: [],
};

interface Volume {
  readonly name: string;
  readonly configMap?: ConfigMapSource;
}
interface Container {
  readonly command?: string[];
  readonly script?: string;
  readonly env: { name: string; value?: string }[];
  readonly volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  readonly containers: Container[];
  readonly volumes: Volume[];
}

/** Every configMap volume `mounts` names, written under `root` at its mount path. */
async function mountCode(
  kube: Kube,
  volumes: readonly Volume[],
  mounts: Container["volumeMounts"],
  root: string,
): Promise<void> {
  for (const mount of mounts) {
    const source = volumes.find((volume) => volume.name === mount.name)?.configMap;
    if (source !== undefined) await mountConfigMap(kube, NAMESPACE, source, root, mount.mountPath);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** A loopback HTTP server: the revisions' real target. `hits` counts requests by path. */
async function startTarget(): Promise<{ url: string; hits: Map<string, number>; close(): void }> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const at = req.url ?? "/";
    hits.set(at, (hits.get(at) ?? 0) + 1);
    const broken = at.includes("broken");
    res.writeHead(broken ? 503 : 200, { "Content-Type": "text/plain" });
    res.end(broken ? "upstream connect error\n" : `Hello World from ${at}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, hits, close: () => server.close() };
}

describe("in-cluster code with its own identity (real processes, ServiceAccount tokens, real API server)", function () {
  let tier: RealTier | undefined;
  let audit: AuditLog;
  const events: AuditEvent[] = [];

  before(async function () {
    this.timeout(90 * 60 * 1000);
    tier = await startRealTier(this);
    await deployDevStack(tier, APP, { "canary-release:tester": { expectBody: "^Hello World" } });
    // From here on, the stack's ServiceAccounts' requests are the code's.
    audit = new AuditLog(path.join(tier.plane.dir, "audit.log"));
  });
  /** What a test started, stopped after it however it ended (a failed test leaves nothing). */
  const cleanup = stopAfterEach();
  after(() => stopRealTier(tier));

  it("the revision tester: two processes, 200 duplicates of every event each, one test per revision", async function () {
    this.timeout(5 * 60 * 1000);
    if (tier === undefined) throw new Error("no tier");
    const { plane } = tier;
    const controllers = new Kube(plane, plane.controllerToken);
    const target = await startTarget();
    cleanup.push(() => target.close());
    const healthy = ["shop-1a2b3c4", "shop-2b3c4d5", "shop-3c4d5e6", "shop-4d5e6f7"];
    const broken = "shop-5e6f7a8";
    const revisions = [...healthy, broken];

    // The tester's code and settings as the stack deployed them, with the pod's API address,
    // token and CA replaced by the local ones.
    const service = (await tier.kube.ok("GET", `${SERVING}/services/${TESTER.service}`)) as {
      spec: { template: { spec: PodSpec } };
    };
    const pod = service.spec.template.spec;
    const container = pod.containers[0];
    const deployedEnv = Object.fromEntries(container.env.map((v) => [v.name, v.value ?? ""]));
    const podRoot = path.join(tier.dir, "tester-pod");
    await mountCode(tier.kube, pod.volumes, container.volumeMounts, podRoot);
    const [command, entry] = container.command ?? [];
    assert.equal(command, "node", "the tester runs its entry point with node");
    const testerScript = path.join(podRoot, entry);
    const tokenFile = serviceAccountTokenFile(tier, NAMESPACE, TESTER.serviceAccount);
    const testerEnv = (id: string, resyncSeconds: string): Record<string, string> => ({
      ...deployedEnv,
      PORT: "0",
      LISTEN_HOST: "127.0.0.1",
      KUBERNETES_API_URL: plane.server,
      KUBERNETES_TOKEN_FILE: tokenFile,
      KUBERNETES_CA_FILE: plane.caFile,
      TESTER_ID: id,
      RESYNC_INTERVAL_SECONDS: resyncSeconds,
    });
    const testers: ScriptProcess[] = [
      startScript(testerScript, testerEnv("tester-a", "0")),
      // The other resyncs at start-up as well (a list of Revisions, the list right in use).
      startScript(testerScript, testerEnv("tester-b", "300")),
    ];
    cleanup.push(...testers.map((tester) => () => tester.stop()));
    const sinks: string[] = [];
    for (const tester of testers) {
      const listening = await tester.waitForLine((line) => line.msg === "listening", 20_000);
      sinks.push(`http://127.0.0.1:${String(listening.port)}/`);
    }

    const routes = playSmokeRoutes({
      kube: controllers,
      plane,
      namespace: NAMESPACE,
      targetFor: (revision) =>
        `${target.url}/${revision === broken ? `broken/${revision}` : revision}`,
    });
    const sourceToken = serviceAccountToken(tier, NAMESPACE, TESTER.sourceServiceAccount);
    const source = playRevisionSource({
      kube: new Kube(plane, sourceToken),
      plane,
      namespace: NAMESPACE,
      configuration: APP,
      sinks,
      copies: COPIES,
    });
    cleanup.push(
      () => routes.stop(),
      () => source.stop(),
    );
    await Promise.all([routes.ready, source.ready]);

    // Results as they land, seen by a watch of the administrator's.
    const readyAt = new Map<string, number>();
    const resultAt = new Map<string, number>();
    const start = (await tier.kube.ok("GET", `${SERVING}/revisions`)) as {
      metadata: { resourceVersion: string };
    };
    const results = watch(
      tier.kube,
      plane,
      `${SERVING}/revisions`,
      start.metadata.resourceVersion,
      (event) => {
        const labels = (event.object.metadata.labels ?? {}) as Record<string, string>;
        const name = event.object.metadata.name;
        if (labels["canary-release.dev/smoke-test"] !== undefined && !resultAt.has(name)) {
          resultAt.set(name, Date.now());
        }
      },
    );
    cleanup.push(() => results.stop());

    // Knative makes each Revision, then reports it Ready.
    for (const name of revisions) {
      await controllers.ok("POST", `${SERVING}/revisions`, {
        apiVersion: "serving.knative.dev/v1",
        kind: "Revision",
        metadata: {
          name,
          namespace: NAMESPACE,
          labels: { "serving.knative.dev/configuration": APP },
          annotations: {
            "canary-release.dev/commit": name.slice(-7).padEnd(40, "0"),
            "canary-release.dev/repository": "https://github.com/acme/shop.git",
          },
        },
        spec: {
          containers: [{ image: `registry.example.com/acme/shop@sha256:${"ab".repeat(32)}` }],
        },
      });
    }
    for (const name of revisions) {
      await writeRevisionStatus(controllers, NAMESPACE, name);
      readyAt.set(name, Date.now());
    }

    const deadline = Date.now() + 120_000;
    while (resultAt.size < revisions.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Let the last events (the results' own updates) reach both testers before stopping.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await source.stop();
    await routes.stop();
    results.stop();
    const exits = await Promise.all(testers.map((tester) => tester.stop()));
    target.close();
    await audit.watchesEnded(USERS.source);
    const calls = audit.since();
    events.push(...calls);

    assert.equal(resultAt.size, revisions.length, `results: ${[...resultAt.keys()].join(", ")}`);
    for (const name of revisions) {
      const revision = (await tier.kube.ok("GET", `${SERVING}/revisions/${name}`)) as KubeObject;
      const labels = revision.metadata.labels as Record<string, string>;
      const annotations = revision.metadata.annotations as Record<string, string>;
      const expected = name === broken ? "failed" : "passed";
      assert.equal(labels["canary-release.dev/smoke-test"], expected, name);
      assert.equal(
        annotations["canary-release.dev/smoke-test-claim"],
        undefined,
        `${name}: claim left`,
      );
      const result = JSON.parse(annotations["canary-release.dev/smoke-test-result"]) as {
        status: number;
        url: string;
      };
      assert.equal(result.status, name === broken ? 503 : 200, name);
      // One test per revision: one smoke Route, one request to the revision.
      assert.equal(routes.created.get(name), 1, `${name}: smoke Routes made`);
      const requested = name === broken ? `/broken/${name}/` : `/${name}/`;
      assert.equal(target.hits.get(requested), 1, `${name}: requests to the revision`);
    }
    const finished = testers.flatMap((tester) =>
      tester.lines.filter((line) => line.msg === "smoke test finished"),
    );
    assert.deepEqual(
      finished.map((line) => line.revision).sort(),
      [...revisions].sort(),
      "one finished test per revision, across both processes",
    );
    assert.ok(finished.every((line) => line.recorded === true));
    assert.deepEqual(exits, [0, 0], "both testers stop cleanly on SIGTERM");
    const figures = source.figures();
    assert.equal(figures.answers["202 testing"], revisions.length, JSON.stringify(figures.answers));
    const leftover = await tier.kube.list(
      `${SERVING}/routes?labelSelector=${encodeURIComponent("canary-release.dev/smoke-test-route=true")}`,
    );
    assert.deepEqual(
      leftover.map((route) => (route as KubeObject).metadata.name),
      [],
    );

    const testerCalls = calls.filter((event) => event.user.username === USERS.tester);
    const refused = testerCalls.filter((event) => event.responseStatus?.code === 403);
    assert.deepEqual(
      refused.map((event) => event.requestURI),
      [],
      "no request of the tester refused",
    );
    const conflicts = testerCalls.filter(
      (event) => event.verb === "patch" && event.responseStatus?.code === 409,
    ).length;
    // The two processes did race for the same Revisions, and the server settled it.
    assert.ok(conflicts >= 1, "the testers' claims met at least one real 409 Conflict");
    assert.deepEqual(
      Object.keys(figures.answers).filter((answer) => !answer.startsWith("202 ")),
      [],
      "every event was accepted",
    );
    const latencies = revisions.map((name) => (resultAt.get(name) ?? 0) - (readyAt.get(name) ?? 0));
    console.log(
      `      tester figures: ${figures.changes} Revision changes → ${figures.posted} events posted ` +
        `(2 processes × ${COPIES} copies); answers ${JSON.stringify(figures.answers)}; ` +
        `${testerCalls.length} API requests by the tester's ServiceAccount, ${conflicts} of them ` +
        `409 Conflict; ${finished.length} tests run for ${revisions.length} revisions; Ready → ` +
        `result median ${median(latencies)} ms, max ${Math.max(...latencies)} ms`,
    );
  });

  it("deploy-revision with the pipeline's token: creates, then updates past a concurrent writer", async function () {
    this.timeout(3 * 60 * 1000);
    if (tier === undefined) throw new Error("no tier");
    const { plane } = tier;
    const configurations = playConfigurations({
      kube: new Kube(plane, plane.controllerToken),
      plane,
      namespace: NAMESPACE,
    });
    cleanup.push(() => configurations.stop());
    await configurations.ready;
    const tokenFile = serviceAccountTokenFile(tier, NAMESPACE, PIPELINE_ACCOUNT);
    const first = "0123456789abcdef0123456789abcdef01234567";
    const second = "89abcdef0123456789abcdef0123456789abcdef";
    // Each deploy runs as a PipelineRun, whose creation time orders the deploys: the API server
    // holds them (pending, so no controller would start them), named so that a tie in the same
    // second falls in the order they were made.
    const pipelineRun = async (name: string): Promise<string> => {
      await tier!.kube.ok("POST", `/apis/tekton.dev/v1/namespaces/${NAMESPACE}/pipelineruns`, {
        apiVersion: "tekton.dev/v1",
        kind: "PipelineRun",
        metadata: { name, namespace: NAMESPACE },
        spec: {
          pipelineRef: { name: pipelineResourceNames(APP).pipeline },
          status: "PipelineRunPending",
        },
      });
      return name;
    };
    const stepEnv = (
      commit: string,
      at: string,
      apiUrl: string,
      run: string,
    ): Record<string, string> => ({
      APP,
      NAMESPACE,
      REVISION: commit,
      SHORT_SHA: commit.slice(0, 7),
      REPO_URL: "https://github.com/acme/shop.git",
      COMMIT_TIMESTAMP: at,
      PIPELINE_RUN: run,
      IMAGE_REPOSITORY: "registry.example.com/acme/shop",
      IMAGE_DIGEST: `sha256:${commit.slice(0, 8).repeat(8)}`,
      SERVICE_ACCOUNT_NAME: APP,
      RESULT_PATH: path.join(tier!.dir, `deploy-result-${commit.slice(0, 7)}`),
      POLL_INTERVAL_MS: "100",
      TIMEOUT_SECONDS: "60",
      KUBERNETES_API_URL: apiUrl,
      KUBERNETES_TOKEN_FILE: tokenFile,
      KUBERNETES_CA_FILE: plane.caFile,
    });
    // The deploy step as the Task the stack deployed runs it: its script, with its code mounted.
    const task = (await tier.kube.ok(
      "GET",
      `/apis/tekton.dev/v1/namespaces/${NAMESPACE}/tasks/${pipelineResourceNames(APP).tasks.deployRevision}`,
    )) as { spec: { steps: Container[]; volumes: Volume[] } };
    const deployStep = task.spec.steps[0];
    const stepRoot = path.join(tier.dir, "deploy-pod");
    await mountCode(tier.kube, task.spec.volumes, deployStep.volumeMounts, stepRoot);
    const codeDir = deployStep.env.find((v) => v.name === "CODE_DIR")?.value ?? "";
    const stepScript = path.join(stepRoot, "script");
    fs.writeFileSync(stepScript, deployStep.script ?? "", { mode: 0o755 });
    const step = (env: Record<string, string>) =>
      runCommand(stepScript, [], {
        cwd: tier!.dir,
        env: { PATH: process.env.PATH ?? "", ...env, CODE_DIR: path.join(stepRoot, codeDir) },
        timeoutMs: 90_000,
      });
    // A concurrent writer that strikes between the step's read and its write: a proxy that, on
    // the step's first PATCH, has someone label the Configuration first, then passes the PATCH on.
    let struck = false;
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", async () => {
        if (req.method === "PATCH" && !struck && /\/configurations\/shop/.test(req.url ?? "")) {
          struck = true;
          try {
            await tier!.kube.ok(
              "PATCH",
              `${SERVING}/configurations/${APP}`,
              { metadata: { labels: { "example.com/cost-centre": "retail" } } },
              MERGE_PATCH,
            );
          } catch (error) {
            res.writeHead(502);
            res.end(`the concurrent writer failed: ${(error as Error).message}`);
            return;
          }
        }
        const upstream = https.request(
          `${plane.server}${req.url ?? "/"}`,
          {
            method: req.method,
            headers: { ...req.headers, host: new URL(plane.server).host },
            ca: fs.readFileSync(plane.caFile),
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on("error", (error) => {
          res.writeHead(502);
          res.end(error.message);
        });
        upstream.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => proxy.close());
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;

    try {
      const created = await step(
        stepEnv(
          first,
          "2026-11-30T10:00:00Z",
          plane.server,
          await pipelineRun("shop-build-deploy-1"),
        ),
      );
      assert.equal(
        created.code,
        0,
        `${created.stdout}${created.stderr}Knative played: ${configurations.actions.join("; ")}`,
      );
      assert.match(created.stdout, /created Configuration shop with revision shop-0123456/);
      const afterCreate = audit.since();
      events.push(...afterCreate);

      const updated = await step(
        stepEnv(
          second,
          "2026-11-30T12:00:00+01:00",
          proxyUrl,
          await pipelineRun("shop-build-deploy-2"),
        ),
      );
      assert.equal(updated.code, 0, updated.stdout + updated.stderr);
      assert.match(updated.stdout, /now templates revision shop-89abcde \(was shop-0123456\)/);
      const afterUpdate = audit.since();
      events.push(...afterUpdate);
      const patches = afterUpdate.filter(
        (event) =>
          event.user.username === USERS.pipeline &&
          event.verb === "patch" &&
          event.objectRef?.resource === "configurations",
      );
      assert.deepEqual(
        patches.map((event) => event.responseStatus?.code),
        [409, 200],
        "the first write met the concurrent writer's change (a real 409), the second landed",
      );

      const redelivered = await step(
        stepEnv(
          second,
          "2026-11-30T12:00:00+01:00",
          plane.server,
          await pipelineRun("shop-build-deploy-3"),
        ),
      );
      assert.equal(redelivered.code, 0, redelivered.stdout + redelivered.stderr);
      assert.match(redelivered.stdout, /already exists for commit/);
      const afterRedelivery = audit.since();
      events.push(...afterRedelivery);
      assert.deepEqual(
        afterRedelivery
          .filter((event) => event.user.username === USERS.pipeline)
          .filter((event) => !["get", "list", "watch"].includes(event.verb))
          .map((event) => event.requestURI),
        [],
        "a redelivered push writes nothing",
      );
    } finally {
      proxy.close();
      await configurations.stop();
    }

    const configuration = (await tier.kube.ok(
      "GET",
      `${SERVING}/configurations/${APP}`,
    )) as KubeObject & {
      spec: { template: { metadata: { name: string; annotations: Record<string, string> } } };
    };
    assert.equal(configuration.spec.template.metadata.name, "shop-89abcde");
    assert.equal(
      configuration.spec.template.metadata.annotations["canary-release.dev/commit-timestamp"],
      "2026-11-30T11:00:00.000Z",
    );
    const labels = configuration.metadata.labels as Record<string, string>;
    assert.equal(labels["example.com/cost-centre"], "retail", "the other writer's label survives");
    assert.equal(labels["app.kubernetes.io/name"], APP);
    assert.deepEqual(configurations.revisions, ["shop-0123456", "shop-89abcde"]);
    assert.equal(
      fs.readFileSync(path.join(tier.dir, "deploy-result-89abcde"), "utf8"),
      "shop-89abcde",
    );
  });

  it("rights: each ServiceAccount can do what its code called, nothing else it listed, no Secrets, no other namespace", async function () {
    this.timeout(3 * 60 * 1000);
    if (tier === undefined) throw new Error("no tier");
    events.push(...audit.since());
    const rows: string[] = [];
    for (const [who, user] of Object.entries(USERS) as [keyof typeof USERS, string][]) {
      assert.ok(callsOf(events, user).length > 0, `${who}: no calls recorded`);
      const report = rightsReport(tier, events, who, user, NAMESPACE);
      rows.push(...report.rows);
      assert.deepEqual(report.refused, [], `${who}: calls of its code that RBAC refuses`);
      assert.deepEqual(report.overreach, [], `${who}: Secrets or other namespaces`);
      assert.deepEqual(report.extra, KNOWN_EXTRA_RIGHTS[who], `${who}: rights beyond its calls`);
      assert.deepEqual(report.elsewhere, [], `${who}: rights in another namespace`);
    }
    // Limited by name (issue 15, fault 10): the pipeline may read and patch its app's own
    // Configuration only, not another app's in the same namespace.
    const configurations = "configurations.serving.knative.dev";
    for (const verb of ["get", "patch"]) {
      const call = { verb, resource: configurations, namespace: NAMESPACE };
      assert.equal(canI(tier, USERS.pipeline, { ...call, name: APP }), true, `${verb} ${APP}`);
      assert.equal(canI(tier, USERS.pipeline, { ...call, name: "other-app" }), false, verb);
      rows.push(
        `pipeline      no   ${verb} ${configurations}/other-app -n ${NAMESPACE}  (must not)`,
      );
    }
    console.log(`      rights (kubectl auth can-i --as=system:serviceaccount:${NAMESPACE}:…):`);
    for (const row of rows) console.log(`        ${row}`);
  });

  it("the tester may create and delete its smoke Routes only: the admission policy refuses the rest", async function () {
    this.timeout(3 * 60 * 1000);
    if (tier === undefined) throw new Error("no tier");
    const t = tier;
    // A smoke Route as the tester labels its own, made by the test (as the cluster admin).
    const smoke = `${APP}-feedbee-smoke`;
    kubectl(
      t.plane,
      t.toolchain,
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "serving.knative.dev/v1",
        kind: "Route",
        metadata: {
          name: smoke,
          namespace: NAMESPACE,
          labels: { [SMOKE_ROUTE_LABEL]: "true" },
        },
        spec: { traffic: [{ configurationName: APP, percent: 100 }] },
      }),
    );
    // Server-side dry runs pass admission as real deletes do, and change nothing.
    const deleteAsTester = (route: string) =>
      kubectlAs(t, USERS.tester, ["delete", "route", route, "-n", NAMESPACE, "--dry-run=server"]);
    // RBAC lets the tester delete Routes; the policy loads within a few seconds of the stack.
    let production = deleteAsTester(APP);
    for (let i = 0; i < 10 && production.status === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      production = deleteAsTester(APP);
    }
    assert.notEqual(production.status, 0, `the production Route: ${production.stdout}`);
    assert.match(production.stderr, /may create and delete only its smoke Routes/);
    const own = deleteAsTester(smoke);
    assert.equal(own.status, 0, `its own smoke Route: ${own.stderr}`);
    // Nor may it create a Route that is not a cluster-local smoke Route (a public Route to an
    // untested revision).
    const publicRoute = kubectlAs(
      t,
      USERS.tester,
      ["create", "-f", "-", "--dry-run=server"],
      JSON.stringify({
        apiVersion: "serving.knative.dev/v1",
        kind: "Route",
        metadata: {
          name: `${APP}-public`,
          namespace: NAMESPACE,
          labels: { [SMOKE_ROUTE_LABEL]: "true" },
        },
        spec: { traffic: [{ configurationName: APP, percent: 100 }] },
      }),
    );
    assert.notEqual(publicRoute.status, 0, `a public Route: ${publicRoute.stdout}`);
    assert.match(publicRoute.stderr, /created cluster-local/);
    console.log(`      tester, create a public Route: refused`);
    console.log(
      `      tester, delete route ${APP} (production): refused: ${production.stderr.trim()}`,
    );
    console.log(`      tester, delete route ${smoke} (labelled smoke Route): allowed`);
  });
});
