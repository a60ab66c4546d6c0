// The canary loop from the command line against the local control plane: `canary revisions`
// reads the app's Revisions with @kubernetes/client-node through the stack's own kubeconfig,
// `canary start <sha7>` makes one the candidate through the real CLI, `canary status` sets the
// stack's traffic beside the Route's, and a hand edit of the Route is reported as drift until
// the `pulumi up --refresh` that status names puts the stack's traffic back; a step waits
// until then. The test plays
// Knative's route controller (it writes the Route's status) and the revision tester (labels).
// The outputs are printed: they are the terminal capture of issue 17's closing note.
import { strict as assert } from "assert";
import { EXIT_OK, EXIT_REFUSED } from "../automation";
import { trafficFor } from "../common/traffic";
import { ControllerPlayer, playControllers } from "./support/controllers";
import { recordDeploymentsOn, routeTraffic, runCanary, type CanaryRun } from "./support/fixtures";
import { Kube } from "./support/kube";
import { createNamespace, createRevision, writeRouteStatus } from "./support/objects";
import { RealTier, StackProject, startRealTier, stopRealTier } from "./support/realTier";
import { kubectl } from "../toolchain/controlPlane";
import { startStandInGithub } from "../test/support/standInGithub";

const APP = "hello";
const NAMESPACE = "hello-loop";
const STACK = "loop";
const COMMITS = {
  stable: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
  candidate: "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
  broken: "9f0e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6",
};
const name = (commit: string): string => `${APP}-${commit.slice(0, 7)}`;
const STABLE = name(COMMITS.stable);
const CANDIDATE = name(COMMITS.candidate);
const BROKEN = name(COMMITS.broken);

/** The Route table of the stable and the candidate at `canaryPercent`. */
function split(canaryPercent: number): ReturnType<typeof trafficFor> {
  return trafficFor({
    app: APP,
    stableRevision: STABLE,
    candidateRevision: CANDIDATE,
    canaryPercent,
  });
}

function result(status: number, latencyMs: number, reason = ""): string {
  return JSON.stringify({ status, latencyMs, at: new Date().toISOString(), reason });
}

describe("the canary loop from the command line (revisions, start, status) against the local control plane", function () {
  let tier: RealTier | undefined;
  let project: StackProject;
  let kube: Kube;
  let controllers: ControllerPlayer | undefined;
  let savedPath: string | undefined;

  before(async function () {
    this.timeout(90 * 60 * 1000);
    tier = await startRealTier(this);
    kube = tier.kube;
    await createNamespace(kube, NAMESPACE);
    const annotated = (commit: string, smoke: string): Record<string, string> => ({
      "canary-release.dev/commit": commit,
      "canary-release.dev/smoke-test-result": smoke,
    });
    await createRevision(kube, NAMESPACE, STABLE, APP, {
      annotations: annotated(COMMITS.stable, result(200, 41)),
    });
    await createRevision(kube, NAMESPACE, CANDIDATE, APP, {
      annotations: annotated(COMMITS.candidate, result(200, 35)),
    });
    await createRevision(kube, NAMESPACE, BROKEN, APP, {
      smokeTest: "failed",
      annotations: annotated(COMMITS.broken, result(500, 9, "expected status 200, got 500")),
    });
    project = await StackProject.create(tier, STACK, {
      "canary-release:app": APP,
      "canary-release:namespace": NAMESPACE,
      "canary-release:domain": "apps.example.com",
      "canary-release:stableRevision": STABLE,
      "canary-release:maxStepPercent": "50",
    });
    savedPath = process.env.PATH;
    process.env.PATH = tier.env.PATH;
    controllers = playControllers(new Kube(tier.plane, tier.plane.controllerToken), 3600);
    await project.ok(["up", "--yes", "--non-interactive"]);
    await writeRouteStatus(kube, NAMESPACE, APP, BROKEN);
  });
  after(async () => {
    await controllers?.stop();
    if (savedPath !== undefined) process.env.PATH = savedPath;
    stopRealTier(tier);
  });

  /** `canary <args>`, printed: the terminal capture of issue 17's closing note. */
  async function canary(args: string[]): Promise<CanaryRun> {
    if (tier === undefined) throw new Error("no tier");
    const run = await runCanary(tier, project, STACK, args);
    console.log(`\n      $ canary ${[...args, "--stack", STACK].join(" ")}   (exit ${run.code})`);
    for (const line of `${run.stdout}${run.stderr}`.trimEnd().split("\n")) {
      console.log(`      ${line}`);
    }
    return run;
  }

  it("revisions lists the app's Revisions with commit, Ready, smoke test and live share", async () => {
    const run = await canary(["revisions"]);
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.match(
      run.stdout,
      /revisions of hello in namespace hello-loop, context \S+ \(https:\/\/127\.0\.0\.1:\d+\), newest first/,
    );
    assert.match(
      run.stdout,
      /hello-9f0e1d2 +\d+s +9f0e1d2 +yes +failed · HTTP 500 in 9 ms: expected status 200, got 500 +0 % +tag latest/,
    );
    assert.match(run.stdout, /hello-5d6e7f8 +\d+s +5d6e7f8 +yes +passed · HTTP 200 in 35 ms +0 %/);
    assert.match(
      run.stdout,
      /hello-1a2b3c4 +\d+s +1a2b3c4 +yes +passed · HTTP 200 in 41 ms +100 % +stable/,
    );
  });

  it("start by sha7 makes the candidate at 0 % through the real CLI; a step then moves the Route", async () => {
    const refused = await canary(["start", "abcdef0"]);
    assert.equal(refused.code, EXIT_REFUSED);
    assert.match(refused.stderr, /no revision of hello was built from commit abcdef0/);

    const start = await canary(["start", "5d6e7f8"]);
    assert.equal(start.code, EXIT_OK, start.stderr);
    assert.match(
      start.stdout,
      /hello-5d6e7f8: commit 5d6e7f8, Ready, smoke test passed · HTTP 200 in 35 ms/,
    );
    if (tier === undefined) throw new Error("no tier");
    assert.deepEqual(routeTraffic(tier, NAMESPACE, APP), split(0));
    const step = await canary(["step", "20"]);
    assert.equal(step.code, EXIT_OK, step.stderr);
    await writeRouteStatus(kube, NAMESPACE, APP, BROKEN);
    // Knative's feature flags, as a Knative installed with tag-header routing on holds them.
    await createNamespace(kube, "knative-serving");
    await kube.ok("POST", "/api/v1/namespaces/knative-serving/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "config-features", namespace: "knative-serving" },
      data: { "tag-header-based-routing": "Enabled" },
    });
    const status = await canary(["status"]);
    assert.equal(status.code, EXIT_OK, status.stderr);
    assert.match(status.stdout, /candidate +hello-5d6e7f8 at 20 %/);
    assert.match(status.stdout, /smoke test +passed · HTTP 200 in 35 ms/);
    assert.match(status.stdout, /route Ready +True/);
    assert.match(status.stdout, /hello-1a2b3c4 +█{16}░{4} +80 % +█{16}░{4} +80 % +stable/);
    assert.match(status.stdout, /hello-5d6e7f8 +█{4}░{16} +20 % +█{4}░{16} +20 % +candidate/);
    assert.match(status.stdout, /latest → hello-9f0e1d2 +░{20} +0 % +░{20} +0 %/);
    assert.match(status.stdout, /drift +none/);
    assert.match(
      status.stdout,
      /header route +on: requests to http:\/\/hello\.hello-loop\.apps\.example\.com with `Knative-Serving-Tag: candidate` reach the candidate/,
    );
    const again = await canary(["revisions"]);
    assert.match(again.stdout, /hello-5d6e7f8 .* 20 % +candidate/);
  });

  it("a hand edit of the Route is DRIFT in status, and the `pulumi up --refresh` it names resolves it", async () => {
    if (tier === undefined) throw new Error("no tier");
    const edited = split(50);
    kubectl(tier.plane, tier.toolchain, [
      "patch",
      "route.serving.knative.dev",
      APP,
      "-n",
      NAMESPACE,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { traffic: edited } }),
    ]);
    await writeRouteStatus(kube, NAMESPACE, APP, BROKEN);
    const drifted = await canary(["status"]);
    assert.equal(drifted.code, EXIT_OK, drifted.stderr);
    assert.match(drifted.stdout, /hello-5d6e7f8 +█{4}░{16} +20 % +█{10}░{10} +50 % +candidate/);
    assert.match(
      drifted.stdout,
      /DRIFT +hello-5d6e7f8: the stack deployed 20 %, the Route's spec says 50 %: the Route was changed outside the stack; `pulumi up --refresh --stack loop` sets the stack's traffic again/,
    );

    // A step from the stack's 20 % while the cluster serves 50 % waits (issue 18, item 3).
    const held = await canary(["step", "30"]);
    assert.equal(held.code, EXIT_REFUSED);
    assert.match(
      held.stderr,
      /canaryPercent 30 refused, nothing written: the Route in the cluster is not what stack loop deployed/,
    );

    await project.ok(["up", "--refresh", "--yes", "--non-interactive"]);
    assert.deepEqual(
      routeTraffic(tier, NAMESPACE, APP),
      split(20),
      "pulumi up --refresh put the stack's traffic back",
    );
    await writeRouteStatus(kube, NAMESPACE, APP, BROKEN);
    const resolved = await canary(["status", "--json"]);
    const body = JSON.parse(resolved.stdout) as { live: { traffic: { drift: string[] } } };
    assert.deepEqual(body.live.traffic.drift, []);
  });

  it("step and rollback post to the candidate's GitHub Deployment, with the token the real CLI decrypts", async () => {
    const token = "ghp_loopStandInToken0123456789";
    const github = await startStandInGithub({ owner: "acme", repository: "hello", token });
    try {
      // Deployments are recorded in the repository the pipeline builds from.
      await recordDeploymentsOn(project, "hello", github.url, token);
      await project.ok(["up", "--yes", "--non-interactive"]);
      await writeRouteStatus(kube, NAMESPACE, APP, BROKEN);

      const step = await canary(["step", "30"]);
      assert.equal(step.code, EXIT_OK, step.stderr);
      assert.match(
        step.stdout,
        /GitHub deployment \d+ of hello-5d6e7f8 \(created\): in_progress "30 % · canary step from 20 %"/,
      );
      await writeRouteStatus(kube, NAMESPACE, APP, BROKEN);
      const rollback = await canary(["rollback"]);
      assert.equal(rollback.code, EXIT_OK, rollback.stderr);
      assert.ok(
        !`${step.stdout}${step.stderr}${rollback.stdout}${rollback.stderr}`.includes(token),
      );

      const [deployment] = github.deployments;
      const list =
        `GET /repos/acme/hello/deployments?sha=${COMMITS.candidate}&environment=loop` +
        "&task=deploy%3Acanary&per_page=100";
      const statuses = `/repos/acme/hello/deployments/${deployment.id}/statuses`;
      assert.deepEqual(
        github.requests.map((r) => [
          `${r.method} ${r.path}`,
          r.body?.state ?? null,
          r.body?.description ?? null,
        ]),
        [
          [list, null, null],
          ["POST /repos/acme/hello/deployments", null, `canary of ${CANDIDATE} (stack loop)`],
          [`POST ${statuses}`, "in_progress", "30 % · canary step from 20 %"],
          [list, null, null],
          [`GET ${statuses}?per_page=1`, null, null],
          [`POST ${statuses}`, "failure", "0 % · rolled back from 30 %"],
        ],
      );
      // The commit is the one the real API server's Revision carries; the token is the secret.
      assert.equal(deployment.ref, COMMITS.candidate);
      assert.ok(github.requests.every((r) => r.authorization === `Bearer ${token}`));
      // The candidate's tag URL is cluster-local here (publicTagUrls false): no environment_url.
      assert.ok(github.requests.every((r) => r.body?.environment_url === undefined));
    } finally {
      await github.close();
    }
  });
});
