// The program under Pulumi mocks, for every committed stack file and for the canary walkthrough.
import { strict as assert } from "assert";
import {
  ClusterState,
  emptyCluster,
  everyRevisionPassed,
  loadStackConfig,
  ProgramRun,
  runProgram,
  stackFiles,
} from "../conformance/programRunner";
import { ofType, only } from "./support/resources";
import { PROD_CANARY_IN_PROGRESS, prodStack } from "./support/prodStack";
import { parseConfig } from "../config";

const ROUTE = "kubernetes:serving.knative.dev/v1:Route";
const REVISION = "kubernetes:serving.knative.dev/v1:Revision";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const PROVIDER = "pulumi:providers:kubernetes";

const PROD = {
  "canary-release:app": "hello",
  "canary-release:namespace": "hello",
  "canary-release:domain": "apps.example.com",
  "canary-release:stableRevision": "hello-1111111",
  "canary-release:candidateRevision": "hello-2222222",
  "canary-release:canaryPercent": "20",
  "kubernetes:context": "prod",
};

function routeTraffic(run: ProgramRun): unknown {
  return (only(run, ROUTE).inputs.spec as { traffic: unknown }).traffic;
}

function readyState(
  status: "True" | "False" | "Unknown",
  reason?: string,
  message?: string,
): Record<string, unknown> {
  // A real Revision always has metadata (Knative's own labels), tested or not.
  return {
    metadata: { labels: { "serving.knative.dev/configuration": "hello" } },
    status: {
      conditions: [
        { type: "Ready", status, ...(reason ? { reason } : {}), ...(message ? { message } : {}) },
      ],
    },
  };
}

/** A Ready revision with the revision tester's record on it. */
function testedState(label?: string, result?: Record<string, unknown>): Record<string, unknown> {
  return {
    ...readyState("True"),
    metadata: {
      labels: label !== undefined ? { "canary-release.dev/smoke-test": label } : {},
      annotations:
        result !== undefined
          ? { "canary-release.dev/smoke-test-result": JSON.stringify(result) }
          : {},
    },
  };
}

/** The stable revision of PROD, Ready, unless `revisions` says otherwise. */
const STABLE_ID = "hello/hello-1111111";

function clusterWith(revisions: Record<string, Record<string, unknown>>): ClusterState {
  const all: Record<string, Record<string, unknown>> = {
    [STABLE_ID]: readyState("True"),
    ...revisions,
  };
  return (type, id) => (type === REVISION ? all[id] : undefined);
}

describe("committed stack files under mocks", () => {
  const files = stackFiles();

  it("has the dev and prod stacks", () => {
    assert.deepEqual(Object.keys(files).sort(), ["dev", "prod"]);
  });

  it("dev: a kind cluster, bootstrap traffic to the latest revision, the namespace created", async () => {
    // The one credential the dev stack needs, set per machine and never committed.
    const { config, secretKeys } = loadStackConfig(files.dev);
    const webhookSecret = "stand-in-webhook-secret-0123456789";
    const run = await runProgram({
      config: {
        ...config,
        "github:token": "stand-in",
        "canary-release:webhookSecret": webhookSecret,
      },
      secretKeys: [...secretKeys, "github:token", "canary-release:webhookSecret"],
      stack: "dev",
    });
    assert.deepEqual(routeTraffic(run), [
      { tag: "latest", configurationName: "hello", latestRevision: true, percent: 100 },
    ]);
    assert.deepEqual(only(run, PROVIDER).inputs, { context: "kind-canary" });
    const namespace = only(run, NAMESPACE);
    assert.equal((namespace.inputs.metadata as { name: string }).name, "hello-dev");
    assert.equal(
      run.resources.some((r) => r.readId !== undefined),
      false,
      "bootstrap reads nothing from the cluster",
    );
    assert.equal(run.outputs.url, "http://hello.hello-dev.127.0.0.1.sslip.io");
    assert.deepEqual(run.outputs.urls, {
      // Cluster-local: `latest` may serve a revision that has not passed its smoke test.
      latest: "http://latest-hello.hello-dev.svc.cluster.local",
    });
  });

  it("prod as committed: a fresh start, bootstrap traffic to the latest revision, guarded, protected", async () => {
    const { config, secretKeys } = prodStack();
    for (const key of ["stableRevision", "candidateRevision", "canaryPercent"]) {
      assert.equal(config[`canary-release:${key}`], undefined, `prod starts without ${key}`);
    }
    const parsed = parseConfig(config, secretKeys);
    assert.equal(parsed.stableRevision, undefined);
    assert.equal(parsed.candidateRevision, undefined);
    assert.equal(parsed.canaryPercent, 0);
    assert.equal(parsed.maxStepPercent, 50);
    assert.equal(parsed.protect, true);
    assert.equal(parsed.verifyCandidate, true);

    const run = await runProgram({
      config,
      secretKeys,
      stack: "prod",
      cluster: everyRevisionPassed,
    });
    assert.equal(run.error, undefined, run.error?.message);
    assert.deepEqual(routeTraffic(run), [
      { tag: "latest", configurationName: "hello", latestRevision: true, percent: 100 },
    ]);
    // No revision to check yet; only the last deployed traffic, for the step guard.
    assert.deepEqual(
      run.resources.filter((r) => r.readId !== undefined).map((r) => [r.type, r.readId]),
      [["pulumi:pulumi:StackReference", "organization/canary-release/prod"]],
    );
    assert.deepEqual(run.outputs.traffic, routeTraffic(run));
    assert.equal(run.outputs.stableRevision, null);
    assert.equal(run.outputs.candidateRevision, null);
    assert.equal(run.outputs.canaryPercent, 0);
  });

  it("prod with a canary in progress: stable and candidate split by canaryPercent, the candidate verified, protected", async () => {
    const { config, secretKeys } = prodStack(PROD_CANARY_IN_PROGRESS);
    const stable = config["canary-release:stableRevision"];
    const candidate = config["canary-release:candidateRevision"];
    const percent = Number(config["canary-release:canaryPercent"]);
    assert.ok(stable && candidate && percent > 0, "the fixture is a canary in progress");
    assert.equal(config["canary-release:protect"], "true");
    assert.equal(config["canary-release:verifyCandidate"], "true");

    const run = await runProgram({
      config,
      secretKeys,
      stack: "prod",
      cluster: everyRevisionPassed,
    });
    assert.deepEqual(routeTraffic(run), [
      { tag: "stable", revisionName: stable, percent: 100 - percent },
      { tag: "candidate", revisionName: candidate, percent },
      { tag: "latest", configurationName: "hello", latestRevision: true, percent: 0 },
    ]);
    // Both revisions from the cluster; the last deployed traffic from the backend (step guard).
    const reads = run.resources.filter((r) => r.readId !== undefined);
    assert.deepEqual(
      reads.map((r) => [r.type, r.readId]),
      [
        ["pulumi:pulumi:StackReference", "organization/canary-release/prod"],
        [REVISION, `hello/${candidate}`],
        [REVISION, `hello/${stable}`],
      ],
    );
    assert.deepEqual(only(run, PROVIDER).inputs, { context: config["kubernetes:context"] });
    assert.equal(
      run.resources.some((r) => r.type === NAMESPACE),
      false,
      "prod uses an existing namespace",
    );
    assert.deepEqual(run.outputs.traffic, routeTraffic(run));
    assert.equal(run.outputs.canaryPercent, percent);
  });
});

describe("route, provider and outputs", () => {
  it("names the Route <app> in the namespace, through the explicit provider", async () => {
    const run = await runProgram({ config: PROD, cluster: everyRevisionPassed });
    const route = only(run, ROUTE);
    assert.deepEqual((route.inputs.metadata as Record<string, unknown>).name, "hello");
    assert.deepEqual((route.inputs.metadata as Record<string, unknown>).namespace, "hello");
    assert.match(route.provider ?? "", /pulumi:providers:kubernetes::kubernetes::/);
    assert.match(
      route.urn,
      /canary:knative:CanaryRoute\$kubernetes:serving.knative.dev\/v1:Route::hello-route$/,
    );
  });

  it("sends every Kubernetes resource and read through the stack's explicit provider", async () => {
    // A resource on the default provider would act on whatever cluster the kubeconfig's
    // current context is: for a read, the gate could pass on the wrong cluster.
    const run = await runProgram({
      config: { ...PROD, "canary-release:createNamespace": "true" },
      cluster: everyRevisionPassed,
    });
    const kubernetes = run.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
    const types = new Set(kubernetes.map((r) => r.type));
    for (const type of [NAMESPACE, REVISION, ROUTE]) assert.ok(types.has(type), type);
    for (const resource of kubernetes) {
      assert.match(
        resource.provider ?? "(default provider)",
        /^urn:pulumi:test::canary-release::pulumi:providers:kubernetes::kubernetes::/,
        resource.urn,
      );
    }
  });

  it("exports url, urls per tag, traffic and the revisions", async () => {
    const run = await runProgram({ config: PROD, cluster: everyRevisionPassed });
    assert.deepEqual(run.outputs, {
      url: "http://hello.hello.apps.example.com",
      urls: {
        stable: "http://stable-hello.hello.apps.example.com",
        candidate: "http://candidate-hello.hello.svc.cluster.local",
        latest: "http://latest-hello.hello.svc.cluster.local",
      },
      traffic: [
        { tag: "stable", revisionName: "hello-1111111", percent: 80 },
        { tag: "candidate", revisionName: "hello-2222222", percent: 20 },
        { tag: "latest", configurationName: "hello", latestRevision: true, percent: 0 },
      ],
      stableRevision: "hello-1111111",
      candidateRevision: "hello-2222222",
      canaryPercent: 20,
      candidateSmokeTest: { state: "passed", result: null },
      pipelineName: null,
      webhookUrl: null,
    });
  });

  it("protect: true protects the Route and the created Namespace; default leaves both unprotected", async () => {
    const { Namespace, Route } = await protectFlags({ ...PROD, "canary-release:protect": "true" });
    assert.deepEqual({ Namespace, Route }, { Namespace: true, Route: true });
    const unprotected = await protectFlags(PROD);
    assert.deepEqual(unprotected, { Namespace: false, Route: false });
  });

  it("kubeconfig set as a secret reaches the provider as a secret", async () => {
    const run = await runProgram({
      config: { ...PROD, "kubernetes:kubeconfig": "apiVersion: v1\nkind: Config\n" },
      secretKeys: ["kubernetes:kubeconfig"],
      cluster: everyRevisionPassed,
    });
    const provider = only(run, PROVIDER);
    assert.equal(provider.inputs.context, "prod");
    assert.equal(provider.inputs.kubeconfig, "apiVersion: v1\nkind: Config\n");
    assert.deepEqual(provider.secretPaths, ["kubeconfig"]);
  });
});

describe("render mode", () => {
  const render = { ...PROD, "canary-release:render": JSON.stringify({ directory: "rendered" }) };

  it("renders to the directory without context or kubeconfig, with no cluster", async () => {
    // The SDK fills an absent kubeconfig from $KUBECONFIG, and the provider refuses a non-empty
    // one beside renderYamlToDirectory: the program must send an empty one, even from a shell
    // with KUBECONFIG set.
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = "/home/me/.kube/other";
    let run: Awaited<ReturnType<typeof runProgram>>;
    try {
      run = await runProgram({
        config: { ...render, "kubernetes:kubeconfig": "/home/me/.kube/config" },
        cluster: emptyCluster,
      });
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
    assert.deepEqual(only(run, PROVIDER).inputs, {
      renderYamlToDirectory: "rendered",
      kubeconfig: "",
    });
    assert.equal(
      run.resources.some((r) => r.readId !== undefined),
      false,
      "no read in render mode",
    );
    assert.equal((routeTraffic(run) as unknown[]).length, 3);
  });

  it("warns that the candidate gate is skipped, and that the tag URLs will be public", async () => {
    const run = await runProgram({ config: render, cluster: emptyCluster });
    assert.equal(run.logs.length, 3);
    assert.match(run.logs[0], /^warning: Render mode .*candidate gate .*skipped/);
    assert.match(run.logs[1], /^warning: Render mode has no cluster to read the stable revision/);
    assert.match(
      run.logs[2],
      /^warning: Render mode: the candidate and latest tag URLs will be public/,
    );
    assert.equal(ofType(run, "kubernetes:core/v1:Service").length, 0);
  });

  it("does not warn when there was no gate to skip, nor when public tags are intended", async () => {
    const run = await runProgram({
      config: {
        ...render,
        "canary-release:canaryPercent": "0",
        "canary-release:publicTagUrls": "true",
      },
      cluster: emptyCluster,
    });
    // Only that the stable revision, which still gets all the traffic, is not checked.
    assert.equal(run.logs.length, 1);
    assert.match(
      run.logs[0],
      /stable revision from: that it exists and is Ready .* is not checked/,
    );
    const noStable = await runProgram({
      config: {
        ...render,
        "canary-release:stableRevision": undefined,
        "canary-release:candidateRevision": undefined,
        "canary-release:canaryPercent": "0",
        "canary-release:publicTagUrls": "true",
      } as unknown as Record<string, string>,
      cluster: emptyCluster,
    });
    assert.deepEqual(noStable.logs, []);
  });
});

describe("candidate gate", () => {
  const candidateId = "hello/hello-2222222";

  it("passes a candidate that is Ready and passed its smoke test, and exports the record", async () => {
    const result = { status: 200, latencyMs: 12, at: "2026-11-26T06:00:00Z", reason: "ok" };
    const run = await runProgram({
      config: PROD,
      cluster: clusterWith({ [candidateId]: testedState("passed", result) }),
    });
    assert.equal((routeTraffic(run) as { percent: number }[])[1].percent, 20);
    assert.deepEqual(run.outputs.candidateSmokeTest, { state: "passed", result });
    assert.deepEqual(run.logs, []);
  });

  it("refuses a Ready candidate whose smoke test failed, quoting the recorded result", async () => {
    const result = {
      status: 500,
      latencyMs: 8,
      at: "2026-11-26T06:00:00Z",
      reason: "unexpected status 500",
    };
    const run = await runProgram({
      config: PROD,
      cluster: clusterWith({ [candidateId]: testedState("failed", result) }),
    });
    assert.match(
      run.error?.message ?? "",
      /hello\/hello-2222222: its smoke test failed: unexpected status 500 \(status 500, 8 ms, at 2026-11-26T06:00:00Z\)/,
    );
    assert.match(run.error?.message ?? "", /canary-release:allowUntestedCandidate true/);
    assert.equal(
      run.resources.some((r) => r.type === ROUTE),
      false,
      "no Route with that traffic",
    );
  });

  it("refuses a Ready candidate with no smoke test result yet", async () => {
    const run = await runProgram({
      config: PROD,
      cluster: clusterWith({ [candidateId]: testedState() }),
    });
    assert.match(run.error?.message ?? "", /no smoke test result yet/);
  });

  it("allowUntestedCandidate lets a failed candidate through, and the preview warns", async () => {
    const run = await runProgram({
      config: { ...PROD, "canary-release:allowUntestedCandidate": "true" },
      cluster: clusterWith({
        [candidateId]: testedState("failed", { status: 500, reason: "boom" }),
      }),
    });
    assert.equal(run.error, undefined, run.error?.message);
    assert.equal((routeTraffic(run) as { percent: number }[])[1].percent, 20);
    assert.equal(run.logs.length, 1);
    assert.match(
      run.logs[0],
      /^warning: Sending traffic to candidate revision hello\/hello-2222222 although its smoke test failed: boom/,
    );
    assert.deepEqual(run.outputs.candidateSmokeTest, {
      state: "failed",
      result: { status: 500, reason: "boom" },
    });
  });

  it("allowUntestedCandidate does not lift the Ready requirement", async () => {
    const run = await runProgram({
      config: { ...PROD, "canary-release:allowUntestedCandidate": "true" },
      cluster: clusterWith({ [candidateId]: readyState("False", "RevisionFailed") }),
    });
    assert.match(run.error?.message ?? "", /Ready is False: RevisionFailed/);
  });

  it("with the tester disabled, Ready is enough", async () => {
    const run = await runProgram({
      config: { ...PROD, "canary-release:tester": '{"enabled":false}' },
      cluster: clusterWith({ [candidateId]: readyState("True") }),
    });
    assert.equal(run.error, undefined, run.error?.message);
    assert.deepEqual(run.outputs.candidateSmokeTest, { state: "untested", result: null });
  });

  it("refuses a candidate with Ready=False, quoting Knative's reason and message, and registers no Route", async () => {
    const run = await runProgram({
      config: PROD,
      cluster: clusterWith({
        [candidateId]: readyState("False", "ContainerMissing", 'Unable to fetch image "x"'),
      }),
    });
    assert.ok(run.error, "the program must fail");
    assert.match(run.error.message, /candidate revision hello\/hello-2222222/);
    assert.match(run.error.message, /Ready is False: ContainerMissing: Unable to fetch image "x"/);
    assert.match(run.error.message, /canary-release:verifyCandidate/);
    assert.equal(
      run.resources.some((r) => r.type === ROUTE),
      false,
      "no Route with that traffic",
    );
  });

  it("refuses a candidate still Unknown, and one with no conditions yet", async () => {
    const unknown = await runProgram({
      config: PROD,
      cluster: clusterWith({ [candidateId]: readyState("Unknown", "Deploying") }),
    });
    assert.match(unknown.error?.message ?? "", /Ready is Unknown: Deploying/);
    const fresh = await runProgram({
      config: PROD,
      cluster: clusterWith({ [candidateId]: { metadata: {}, status: {} } }),
    });
    assert.match(fresh.error?.message ?? "", /no Ready condition yet/);
    // No status at all is unknown to a preview (Pulumi treats missing outputs so); `up` refuses.
    const noStatus = await runProgram({
      config: PROD,
      preview: false,
      cluster: clusterWith({ [candidateId]: { metadata: {} } }),
    });
    assert.match(noStatus.error?.message ?? "", /no Ready condition yet/);
  });

  it("fails when the candidate revision does not exist, naming it", async () => {
    const run = await runProgram({ config: PROD, cluster: clusterWith({}) });
    assert.match(run.error?.message ?? "", /hello\/hello-2222222.*does not exist/);
    assert.equal(
      run.resources.some((r) => r.type === ROUTE),
      false,
    );
  });

  it("at canaryPercent 0 the candidate need not be Ready or tested, and its record is exported", async () => {
    const run = await runProgram({
      config: { ...PROD, "canary-release:canaryPercent": "0" },
      cluster: clusterWith({ [candidateId]: readyState("Unknown", "Deploying") }),
    });
    assert.equal(run.error, undefined, run.error?.message);
    assert.deepEqual(run.outputs.candidateSmokeTest, { state: "untested", result: null });
  });

  it("at canaryPercent 0 a candidate that does not exist is still refused", async () => {
    // A Route to a missing revision is not Ready: a mistyped candidate would take the Route down.
    const run = await runProgram({
      config: { ...PROD, "canary-release:canaryPercent": "0" },
      cluster: clusterWith({}),
    });
    assert.match(run.error?.message ?? "", /hello\/hello-2222222.*does not exist/);
  });

  it("refuses a stable revision that does not exist, or is not Ready, and registers no Route", async () => {
    const missing = await runProgram({
      config: PROD,
      cluster: (type, id) =>
        type === REVISION && id === candidateId ? testedState("passed") : undefined,
    });
    assert.match(missing.error?.message ?? "", /hello\/hello-1111111.*does not exist/);
    const notReady = await runProgram({
      config: PROD,
      cluster: clusterWith({
        [candidateId]: testedState("passed"),
        [STABLE_ID]: readyState("False", "RevisionFailed", "Container failed"),
      }),
    });
    assert.match(
      notReady.error?.message ?? "",
      /Refusing to send traffic to stable revision hello\/hello-1111111: Ready is False: RevisionFailed: Container failed\. Check canary-release:stableRevision/,
    );
    assert.equal(
      notReady.resources.some((r) => r.type === ROUTE),
      false,
    );
  });

  it("verifyCandidate false skips the read", async () => {
    const run = await runProgram({
      config: { ...PROD, "canary-release:verifyCandidate": "false" },
      cluster: emptyCluster,
    });
    assert.equal(run.error, undefined);
    assert.equal(
      run.resources.some((r) => r.readId !== undefined),
      false,
    );
  });

  it("runs in preview, not only in up", async () => {
    const run = await runProgram({
      config: PROD,
      preview: true,
      cluster: clusterWith({ [candidateId]: readyState("False", "RevisionFailed") }),
    });
    assert.match(run.error?.message ?? "", /RevisionFailed/);
  });
});

describe("a canary step changes the Route and nothing else", () => {
  async function resourcesAt(percent: number): Promise<Map<string, string>> {
    const run = await runProgram({
      config: { ...PROD, "canary-release:canaryPercent": String(percent) },
      cluster: everyRevisionPassed,
    });
    assert.equal(run.error, undefined);
    return new Map(run.resources.map((r) => [r.urn, JSON.stringify(r.inputs)]));
  }

  it("20 % -> 50 %: same URNs, exactly one resource (the Route) with different inputs", async () => {
    const before = await resourcesAt(20);
    const after = await resourcesAt(50);
    assert.deepEqual(
      [...after.keys()].sort(),
      [...before.keys()].sort(),
      "no URN appears or disappears",
    );
    const changed = [...before.keys()].filter((urn) => before.get(urn) !== after.get(urn));
    assert.equal(changed.length, 1, `changed: ${changed.join(", ")}`);
    assert.match(changed[0], /serving.knative.dev\/v1:Route::hello-route$/);
  });

  it("the same config twice gives identical inputs (nothing random or time-based)", async () => {
    const first = await resourcesAt(20);
    const second = await resourcesAt(20);
    assert.deepEqual([...second.entries()].sort(), [...first.entries()].sort());
  });

  it("walkthrough: bootstrap -> stable -> candidate 0/20/50/100 -> promote -> rollback", async () => {
    const base = {
      "canary-release:app": "hello",
      "canary-release:namespace": "hello",
      "kubernetes:context": "prod",
    };
    const steps: [Record<string, string>, [string | undefined, number][]][] = [
      [{}, [[undefined, 100]]],
      [
        { "canary-release:stableRevision": "hello-1111111" },
        [
          ["hello-1111111", 100],
          [undefined, 0],
        ],
      ],
      ...[0, 20, 50, 100].map((p): [Record<string, string>, [string | undefined, number][]] => [
        {
          "canary-release:stableRevision": "hello-1111111",
          "canary-release:candidateRevision": "hello-2222222",
          "canary-release:canaryPercent": String(p),
        },
        [
          ["hello-1111111", 100 - p],
          ["hello-2222222", p],
          [undefined, 0],
        ],
      ]),
      // promote: the candidate becomes stable, no candidate, percent 0
      [
        { "canary-release:stableRevision": "hello-2222222" },
        [
          ["hello-2222222", 100],
          [undefined, 0],
        ],
      ],
    ];
    for (const [config, expected] of steps) {
      const run = await runProgram({
        config: { ...base, ...config },
        cluster: everyRevisionPassed,
      });
      const traffic = routeTraffic(run) as { revisionName?: string; percent: number }[];
      assert.deepEqual(
        traffic.map((t) => [t.revisionName, t.percent]),
        expected,
        JSON.stringify(config),
      );
    }
  });
});

async function protectFlags(config: Record<string, string>): Promise<Record<string, boolean>> {
  const run = await runProgram({
    config: { ...config, "canary-release:createNamespace": "true" },
    cluster: everyRevisionPassed,
  });
  return { Namespace: only(run, NAMESPACE).protect, Route: only(run, ROUTE).protect };
}
