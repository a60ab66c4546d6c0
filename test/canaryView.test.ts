// What `canary revisions`, `start` and `status` decide from the cluster's objects (pure).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  bar,
  formatRevisions,
  formatTraffic,
  resolveRevision,
  revisionRows,
  smokeTestSummary,
  trafficView,
  type KnativeRoute,
} from "../automation";
import { formatAge } from "../automation/canaryView";
import { defaultKubeconfigSource, isKubeconfigText, kubeconfigSource } from "../automation/cluster";
import { trafficFor } from "../common/traffic";
import { revision } from "./support/standInCluster";

const APP = "hello";
const NS = "hello";
const STABLE = "hello-1a2b3c4";
const CANDIDATE = "hello-5d6e7f8";
const NEWEST = "hello-9f0e1d2";

const REVISIONS = [
  revision(APP, NS, STABLE, {
    commit: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
    createdAt: "2026-11-28T09:00:00Z",
    smokeTest: "passed",
    result: { status: 200, latencyMs: 41, at: "2026-11-28T09:01:00Z" },
  }),
  revision(APP, NS, NEWEST, {
    commit: "9f0e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6",
    createdAt: "2026-12-02T11:30:00Z",
    ready: false,
  }),
  revision(APP, NS, CANDIDATE, {
    commit: "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
    createdAt: "2026-12-02T10:00:00Z",
    smokeTest: "failed",
    result: { status: 500, latencyMs: 12, reason: "expected status 200" },
  }),
];

/** The Route as Knative has it once it applied `traffic`: status resolves the latest one. */
function servedRoute(
  spec = trafficFor({
    app: APP,
    stableRevision: STABLE,
    candidateRevision: CANDIDATE,
    canaryPercent: 20,
  }),
  latest = NEWEST,
): KnativeRoute {
  return {
    metadata: { name: APP, generation: 3 },
    spec: { traffic: spec },
    status: {
      observedGeneration: 3,
      conditions: [{ type: "Ready", status: "True" }],
      traffic: spec.map((target) =>
        target.latestRevision === true ? { ...target, revisionName: latest } : target,
      ),
    },
  };
}

describe("canary views of the cluster (automation/canaryView.ts)", () => {
  it("lists revisions newest first with commit, Ready, smoke test, live share and role", () => {
    const rows = revisionRows(REVISIONS, servedRoute(), {
      stableRevision: STABLE,
      candidateRevision: CANDIDATE,
    });
    assert.deepEqual(
      rows.map((row) => [row.name, row.ready, row.smokeTest.state, row.livePercent, row.role]),
      [
        [NEWEST, false, "untested", 0, null],
        [CANDIDATE, true, "failed", 20, "candidate"],
        [STABLE, true, "passed", 80, "stable"],
      ],
    );
    assert.deepEqual(rows[0].tags, ["latest"]);
    assert.match(rows[0].notReady ?? "", /Ready is False: ContainerMissing: image not found/);
    const text = formatRevisions("revisions of hello", rows, new Date("2026-12-02T12:00:00Z"));
    const lines = text.split("\n");
    assert.match(lines[1], /^ {2}REVISION +AGE +COMMIT +READY +SMOKE TEST +SHARE +ROLE$/);
    assert.match(lines[2], /^ {2}hello-9f0e1d2 +30m +9f0e1d2 +no +untested +0 % +tag latest$/);
    assert.match(
      lines[3],
      /^ {2}hello-5d6e7f8 +2h +5d6e7f8 +yes +failed · HTTP 500 in 12 ms: expected status 200 +20 % +candidate$/,
    );
    assert.match(
      lines[4],
      /^ {2}hello-1a2b3c4 +4d +1a2b3c4 +yes +passed · HTTP 200 in 41 ms +80 % +stable$/,
    );
  });

  it("without a Route, shares are unknown, not zero", () => {
    const rows = revisionRows(REVISIONS, undefined, {});
    assert.deepEqual(
      rows.map((row) => row.livePercent),
      [null, null, null],
    );
    assert.match(formatRevisions("h", rows, new Date()), / -  +-$/m);
    assert.equal(formatRevisions("h", [], new Date()), "h\n  no revisions yet\n");
  });

  it("resolves a revision by name, by sha7, by a longer or shorter commit; refuses the rest", () => {
    const rows = revisionRows(REVISIONS, undefined, {});
    assert.equal(resolveRevision(CANDIDATE, rows, APP).name, CANDIDATE);
    assert.equal(resolveRevision("5d6e7f8", rows, APP).name, CANDIDATE);
    assert.equal(resolveRevision("5D6E7F80", rows, APP).name, CANDIDATE);
    assert.equal(resolveRevision("5d6e", rows, APP).name, CANDIDATE);
    assert.equal(
      resolveRevision("9f0e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6", rows, APP).name,
      NEWEST,
    );
    assert.throws(
      () => resolveRevision("hello-0000000", rows, APP),
      /no revision named hello-0000000, and it is not a commit \(4 to 40 hex digits\): newest revisions: hello-9f0e1d2 \(9f0e1d2\), hello-5d6e7f8 \(5d6e7f8\), hello-1a2b3c4 \(1a2b3c4\)/,
    );
    assert.throws(
      () => resolveRevision("abcdef0", rows, APP),
      /no revision of hello was built from commit abcdef0: newest revisions/,
    );
    assert.throws(() => resolveRevision("5d6", rows, APP), /not a commit/);
    assert.throws(
      () => resolveRevision("5d6e7f8", [], APP),
      /the app hello has no revisions in the cluster yet/,
    );
    // Two commits with the same prefix: the user must say more.
    const twins = revisionRows(
      [
        revision(APP, NS, "hello-abcd111", {
          commit: "abcd111" + "0".repeat(33),
          createdAt: "2026-12-01T00:00:00Z",
        }),
        revision(APP, NS, "hello-abcd222", {
          commit: "abcd222" + "0".repeat(33),
          createdAt: "2026-12-01T00:00:01Z",
        }),
      ],
      undefined,
      {},
    );
    assert.throws(
      () => resolveRevision("abcd", twins, APP),
      /commit abcd matches 2 revisions \(hello-abcd222, hello-abcd111\): give more of the commit/,
    );
    // One commit built twice: no more of it to give, so the name is asked for.
    const full = "abcd111" + "0".repeat(33);
    const rebuilt = revisionRows(
      [
        revision(APP, NS, "hello-abcd111", { commit: full, createdAt: "2026-12-01T00:00:00Z" }),
        revision(APP, NS, "hello-abcd111-2", { commit: full, createdAt: "2026-12-01T00:00:01Z" }),
      ],
      undefined,
      {},
    );
    assert.throws(
      () => resolveRevision(full, rebuilt, APP),
      /was built into 2 revisions \(hello-abcd111-2, hello-abcd111\): give the revision's name/,
    );
    // A Revision without the pipeline's annotation is found by its `<app>-<sha7>` name.
    const foreign = revisionRows(
      [revision(APP, NS, "hello-7777777", { createdAt: "2026-12-01T00:00:00Z" })],
      undefined,
      {},
    );
    assert.equal(resolveRevision("7777777", foreign, APP).name, "hello-7777777");
  });

  it("formats smoke results, ages and bars", () => {
    assert.equal(smokeTestSummary({ state: "untested", result: null }), "untested");
    assert.equal(
      smokeTestSummary({ state: "passed", result: { status: 200, latencyMs: 35, reason: "" } }),
      "passed · HTTP 200 in 35 ms",
    );
    assert.equal(
      smokeTestSummary({ state: "error", result: { reason: "the API answered 503" } }),
      "error: the API answered 503",
    );
    assert.equal(formatAge("2026-12-02T11:59:15Z", new Date("2026-12-02T12:00:00Z")), "45s");
    assert.equal(formatAge("2026-11-30T12:00:00Z", new Date("2026-12-02T12:00:00Z")), "2d");
    assert.equal(formatAge(null, new Date()), "-");
    assert.equal(bar(20), "████░░░░░░░░░░░░░░░░");
    assert.equal(bar(0), "░".repeat(20));
    assert.equal(bar(100, 10), "█".repeat(10));
  });

  it("the stack's traffic beside the Route: agreement, a hand edit, Knative behind, no Route", () => {
    const deployed = trafficFor({
      app: APP,
      stableRevision: STABLE,
      candidateRevision: CANDIDATE,
      canaryPercent: 20,
    });
    const agreed = trafficView(deployed, servedRoute(), "prod");
    assert.deepEqual(agreed.drift, []);
    assert.equal(agreed.routeReady, "True");
    assert.deepEqual(
      agreed.rows.map((row) => [row.target, row.desired, row.live, row.resolvesTo]),
      [
        [STABLE, 80, 80, null],
        [CANDIDATE, 20, 20, null],
        ["latest", 0, 0, NEWEST],
      ],
    );
    const lines = formatTraffic(agreed);
    assert.match(lines[0], /stack \(desired\) +cluster \(live\)/);
    assert.match(lines[2], /^hello-5d6e7f8 +████░{16} +20 % +████░{16} +20 % +candidate$/);
    assert.match(lines[3], /^latest → hello-9f0e1d2 +░{20} +0 % +░{20} +0 %$/);

    // Someone gave the candidate 50 % with kubectl: Knative serves it, the stack did not.
    const edited = trafficFor({
      app: APP,
      stableRevision: STABLE,
      candidateRevision: CANDIDATE,
      canaryPercent: 50,
    });
    const hand = trafficView(deployed, servedRoute(edited), "prod");
    assert.deepEqual(hand.drift, [
      `${STABLE}: the stack deployed 80 %, the Route's spec says 50 %: the Route was changed outside the stack; \`pulumi up --refresh --stack prod\` sets the stack's traffic again`,
      `${CANDIDATE}: the stack deployed 20 %, the Route's spec says 50 %: the Route was changed outside the stack; \`pulumi up --refresh --stack prod\` sets the stack's traffic again`,
    ]);

    // The spec is the stack's, but Knative still serves the old split and is not Ready.
    const old = servedRoute(
      trafficFor({
        app: APP,
        stableRevision: STABLE,
        candidateRevision: CANDIDATE,
        canaryPercent: 5,
      }),
    );
    const behind: KnativeRoute = {
      ...old,
      spec: { traffic: deployed },
      status: {
        ...old.status,
        conditions: [
          { type: "Ready", status: "Unknown", reason: "RevisionMissing", message: "waiting" },
        ],
      },
    };
    const waiting = trafficView(deployed, behind, "prod");
    assert.equal(waiting.routeReady, "Unknown: RevisionMissing: waiting");
    assert.match(
      waiting.drift[0],
      /hello-1a2b3c4: the stack deployed 80 %, Knative serves 95 % \(Route Ready Unknown: RevisionMissing: waiting\): Knative has not applied/,
    );

    assert.deepEqual(trafficView(deployed, undefined, "prod").drift, [
      "the stack deployed a Route, but the cluster has none: `pulumi up --refresh --stack prod` creates it again",
    ]);
    // The same shares under another tag, or the candidate's 0 % entry dropped: a hand edit too.
    const retagged = deployed.map((target) =>
      target.tag === "candidate" ? { ...target, tag: "canary" } : target,
    );
    const renamed = trafficView(deployed, servedRoute(retagged), "prod");
    assert.equal(renamed.changedOutsideStack, true);
    assert.match(
      renamed.drift[0],
      /^the Route's targets are \[canary→hello-5d6e7f8 20, latest→latest 0, stable→hello-1a2b3c4 80\], the stack deployed \[candidate→hello-5d6e7f8 20, /,
    );
    // Knative reports Ready for the spec's generation, yet serves another split: not lag.
    const wrong: KnativeRoute = {
      ...servedRoute(),
      status: {
        ...servedRoute().status,
        traffic: servedRoute(old.spec?.traffic as never).status?.traffic,
      },
    };
    assert.match(
      trafficView(deployed, wrong, "prod").drift[0],
      /Knative serves 95 % \(Route Ready True\): Knative reports the Route Ready, yet serves another split/,
    );
    // Not read (no cluster): no live column and no verdict either way.
    const unread = trafficView(deployed, null, "prod");
    assert.deepEqual([unread.drift, unread.rows.map((row) => row.live)], [[], [null, null, null]]);
    // Never deployed: nothing to compare with, and said so.
    const never = trafficView(null, servedRoute(), "prod");
    assert.deepEqual([never.drift, never.changedOutsideStack], [[], false]);
    assert.match(never.notCompared ?? "", /the stack was never deployed/);
    assert.equal(agreed.notCompared, null);
  });
});

describe("finding the stack's kubeconfig (automation/cluster.ts)", () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "canary-home-"));
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it("says what is missing instead of trying localhost:8080", () => {
    assert.throws(
      () => defaultKubeconfigSource({}, home),
      /no kubeconfig: .*\.kube\/config does not exist and \$KUBECONFIG is not set; set kubernetes:kubeconfig/,
    );
    assert.throws(
      () => defaultKubeconfigSource({ KUBECONFIG: path.join(home, "nope") }, home),
      /\$KUBECONFIG names .*nope, which does not exist/,
    );
    assert.equal(
      defaultKubeconfigSource({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }, home),
      "the Pod's ServiceAccount (in-cluster)",
    );
    fs.mkdirSync(path.join(home, ".kube"));
    fs.writeFileSync(path.join(home, ".kube", "config"), "apiVersion: v1\n");
    assert.equal(defaultKubeconfigSource({}, home), path.join(home, ".kube", "config"));
    assert.match(
      defaultKubeconfigSource({ KUBECONFIG: path.join(home, ".kube", "config") }, home),
      /^\$KUBECONFIG \(/,
    );
  });

  it("reads a kubeconfig path as the provider does: ~/ is home, a relative path is from the project", () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), "canary-project-"));
    try {
      fs.writeFileSync(path.join(project, "kc.yaml"), "apiVersion: v1\n");
      fs.mkdirSync(path.join(home, ".kube"), { recursive: true });
      fs.writeFileSync(path.join(home, ".kube", "prod"), "apiVersion: v1\n");
      assert.deepEqual(kubeconfigSource("kc.yaml", project, home), {
        file: path.join(project, "kc.yaml"),
      });
      assert.deepEqual(kubeconfigSource("~/.kube/prod", project, home), {
        file: path.join(home, ".kube", "prod"),
      });
      assert.throws(
        () => kubeconfigSource("missing.yaml", project, home),
        new RegExp(
          `kubernetes:kubeconfig names ${path.join(project, "missing.yaml")}, which does not exist`,
        ),
      );
      const text = "apiVersion: v1\nkind: Config\n";
      assert.deepEqual(kubeconfigSource(text, project, home), { text });
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });

  it("tells a kubeconfig's text from a path, as the provider's kubernetes:kubeconfig takes both", () => {
    assert.equal(isKubeconfigText("/home/me/.kube/prod"), false);
    assert.equal(isKubeconfigText("apiVersion: v1\nkind: Config\n"), true);
    assert.equal(isKubeconfigText('{"apiVersion":"v1"}'), true);
  });
});
