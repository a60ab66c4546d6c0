// Every custom resource the stack renders, for every stack file and every traffic shape,
// validated against the upstream CRD schemas (../shared/crds or CANARY_CRDS_DIR).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CrdCatalog } from "../conformance/crdValidator";
import {
  everyRevisionPassed,
  RecordedResource,
  runProgram,
  stackFiles,
} from "../conformance/programRunner";
import { checkResources, checkStackFiles, isCustomResource } from "../conformance/stackConformance";
import { RULES_READ_FROM } from "../conformance/upstreamRules";
import { PLATFORM_DEFAULT_VERSIONS } from "../common/platformVersions";
import { CRDS_DIR, sharedCatalog } from "./support/sharedCrds";
import { PROD_CANARY_IN_PROGRESS, prodStack } from "./support/prodStack";
import { runCli } from "./support/validateCli";

const BASE = {
  "canary-release:app": "hello",
  "canary-release:namespace": "hello",
  "kubernetes:context": "prod",
};

const SHAPES: Record<string, Record<string, string>> = {
  bootstrap: {},
  "stable only": { "canary-release:stableRevision": "hello-1111111" },
  ...Object.fromEntries(
    [0, 1, 50, 99, 100].map((percent) => [
      `candidate at ${percent} %`,
      {
        "canary-release:stableRevision": "hello-1111111",
        "canary-release:candidateRevision": "hello-2222222",
        "canary-release:canaryPercent": String(percent),
      },
    ]),
  ),
  "namespace created, protected": {
    "canary-release:createNamespace": "true",
    "canary-release:protect": "true",
  },
  "render mode": { "canary-release:render": '{"directory":"rendered"}' },
};

describe("conformance: rendered custom resources against the upstream CRDs", function () {
  let catalog: CrdCatalog;

  before(function () {
    this.timeout(60000);
    catalog = sharedCatalog(this);
  });

  it("every committed stack file: each custom resource is valid", async () => {
    const reports = await checkStackFiles(catalog);
    assert.deepEqual(
      reports.map((r) => r.stack),
      Object.keys(stackFiles()),
    );
    for (const stack of reports) {
      assert.equal(stack.error, undefined, `${stack.stack}: ${stack.error}`);
      assert.ok(stack.reports.length > 0, `${stack.stack} renders no custom resource`);
      for (const report of stack.reports) {
        assert.deepEqual(report.violations, [], `${stack.stack}: ${report.resource}`);
      }
    }
  });

  for (const [shape, config] of Object.entries(SHAPES)) {
    it(`${shape}: each custom resource is valid`, async () => {
      const run = await runProgram({
        config: { ...BASE, ...config },
        cluster: everyRevisionPassed,
      });
      assert.equal(run.error, undefined, run.error?.message);
      const reports = checkResources(catalog, run.resources);
      assert.ok(reports.some((r) => r.resource.startsWith("serving.knative.dev/v1 Route")));
      for (const report of reports) assert.deepEqual(report.violations, [], report.resource);
    });
  }

  it("catches a field the CRD does not have in what the stack rendered", async () => {
    const { config, secretKeys } = prodStack();
    const run = await runProgram({ config, secretKeys, cluster: everyRevisionPassed });
    const route = run.resources.find((r) => r.type === "kubernetes:serving.knative.dev/v1:Route");
    assert.ok(route);
    const spec = route.inputs.spec as { traffic: Record<string, unknown>[] };
    const [first, ...rest] = spec.traffic;
    const broken: RecordedResource = {
      ...route,
      inputs: { ...route.inputs, spec: { traffic: [{ ...first, percnt: 5 }, ...rest] } },
    };
    const [report] = checkResources(catalog, [broken]);
    assert.deepEqual(report.violations, [
      { path: "spec.traffic[0]", message: 'unknown field "percnt"' },
    ]);
  });

  it("applies Tekton's admission rules at test time: a Pipeline param nobody declared", async () => {
    // The components no longer check this on every preview: the builders generate it, and this
    // check (npm test, npm run validate) is where a builder's mistake shows.
    const { config, secretKeys } = prodStack();
    const run = await runProgram({ config, secretKeys, cluster: everyRevisionPassed });
    const pipeline = run.resources.find((r) => r.type === "kubernetes:tekton.dev/v1:Pipeline");
    assert.ok(pipeline);
    const spec = pipeline.inputs.spec as {
      tasks: { params?: { name: string; value: string }[] }[];
    };
    const [first, ...rest] = spec.tasks;
    const params = [...(first.params ?? []), { name: "extra", value: "$(params.undeclared)" }];
    const broken: RecordedResource = {
      ...pipeline,
      inputs: { ...pipeline.inputs, spec: { ...spec, tasks: [{ ...first, params }, ...rest] } },
    };
    const resources = run.resources.map((r) => (r === pipeline ? broken : r));
    const reports = checkResources(catalog, resources);
    const pipelineReport = reports.find((r) => r.urn === pipeline.urn);
    assert.ok(pipelineReport);
    const messages = pipelineReport.violations.map((v) => `${v.path}: ${v.message}`);
    assert.ok(
      messages.some((m) => /undeclared/.test(m)),
      `the undeclared param is reported: ${messages.join("; ")}`,
    );
    // Everything else the stack rendered still passes.
    assert.deepEqual(
      reports.filter((r) => r !== pipelineReport && r.violations.length > 0),
      [],
    );
  });

  it("reports a Route whose traffic Knative's webhook would refuse", async () => {
    // A split of two revisions: the webhook sums every target's percent.
    const { config, secretKeys } = prodStack(PROD_CANARY_IN_PROGRESS);
    const run = await runProgram({ config, secretKeys, cluster: everyRevisionPassed });
    const route = run.resources.find((r) => r.type === "kubernetes:serving.knative.dev/v1:Route");
    assert.ok(route);
    const spec = route.inputs.spec as { traffic: { percent?: number }[] };
    const [first, ...rest] = spec.traffic;
    const broken: RecordedResource = {
      ...route,
      inputs: {
        ...route.inputs,
        spec: { ...spec, traffic: [{ ...first, percent: (first.percent ?? 0) + 1 }, ...rest] },
      },
    };
    const reports = checkResources(
      catalog,
      run.resources.map((r) => (r === route ? broken : r)),
    );
    const messages = (reports.find((r) => r.urn === route.urn)?.violations ?? []).map(
      (v) => `${v.path}: ${v.message}`,
    );
    assert.deepEqual(messages, ["spec.traffic: Traffic targets sum to 101, want 100"]);
  });

  it("reads the upstream rules from the releases the platform installs", () => {
    assert.deepEqual(
      { ...RULES_READ_FROM },
      {
        tektonPipeline: PLATFORM_DEFAULT_VERSIONS.tektonPipeline,
        tektonTriggers: PLATFORM_DEFAULT_VERSIONS.tektonTriggers,
        knativeServing: PLATFORM_DEFAULT_VERSIONS.knativeServing,
      },
      "the platform moved: re-read the rules in conformance/ (tektonRules.ts, triggersRules.ts, " +
        "knativeRules.ts) at the new tags",
    );
  });

  it("counts only created custom resources: not built-in kinds, providers, components or reads", async () => {
    // Mid-canary, so that the program also reads revisions, which must not be counted.
    const { config, secretKeys } = prodStack(PROD_CANARY_IN_PROGRESS);
    const run = await runProgram({
      config: { ...config, "canary-release:createNamespace": "true" },
      secretKeys,
      cluster: everyRevisionPassed,
    });
    const custom = new Set(run.resources.filter(isCustomResource).map((r) => r.type));
    const other = new Set(run.resources.filter((r) => !isCustomResource(r)).map((r) => r.type));
    for (const type of [
      "kubernetes:serving.knative.dev/v1:Route",
      "kubernetes:tekton.dev/v1:Task",
      "kubernetes:tekton.dev/v1:Pipeline",
      "kubernetes:triggers.tekton.dev/v1beta1:EventListener",
      "kubernetes:triggers.tekton.dev/v1beta1:TriggerBinding",
      "kubernetes:triggers.tekton.dev/v1beta1:TriggerTemplate",
    ]) {
      assert.ok(custom.has(type), `${type} is checked against its CRD`);
    }
    for (const type of [
      "pulumi:providers:kubernetes",
      "kubernetes:core/v1:Namespace",
      "kubernetes:core/v1:Secret",
      "kubernetes:networking.k8s.io/v1:Ingress",
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
      "canary:knative:CanaryRoute",
      // The candidate gate's read: an object the stack reads, not one it creates.
      "kubernetes:serving.knative.dev/v1:Revision",
    ]) {
      assert.ok(other.has(type) && !custom.has(type), `${type} is not a custom resource here`);
    }
  });
});

describe("npm run validate (conformance/cli.ts)", function () {
  before(function () {
    this.timeout(60000);
    sharedCatalog(this);
  });

  it("passes the committed stacks against the shared CRDs", async () => {
    const { code, output } = await runCli(["--crds", CRDS_DIR]);
    assert.equal(code, 0, output);
    assert.match(output, /ok +serving.knative.dev\/v1 Route hello\/hello/);
    // The committed stacks lack per-machine credentials and were never deployed here.
    assert.match(
      output,
      /\npassed \(with \d+ things not checked, listed above\): \d+ custom resources in 2 stacks$/,
    );
  });

  it("fails, naming the kind, against a cluster without the Knative Serving CRDs", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crds-"));
    try {
      fs.copyFileSync(
        path.join(CRDS_DIR, "tekton-pipeline", "300-task.yaml"),
        path.join(dir, "task.yaml"),
      );
      const { code, output } = await runCli(["--crds", dir, "--stack", "prod"]);
      assert.equal(code, 1, output);
      assert.match(output, /INVALID serving.knative.dev\/v1 Route hello\/hello/);
      assert.match(output, /FAILED/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an unknown stack and a missing CRD directory with exit code 2", async () => {
    assert.equal((await runCli(["--crds", CRDS_DIR, "--stack", "staging"])).code, 2);
    const missing = await runCli(["--crds", path.join(os.tmpdir(), "no-such-crds-dir")]);
    assert.equal(missing.code, 2);
    assert.match(missing.output, /no-such-crds-dir/);
    assert.equal((await runCli(["--bogus"])).code, 2);
  });

  it("--json prints machine-readable reports", async () => {
    const { code, output } = await runCli(["--crds", CRDS_DIR, "--stack", "dev", "--json"]);
    assert.equal(code, 0);
    const parsed = JSON.parse(output) as {
      stacks: { stack: string; reports: { resource: string; violations: unknown[] }[] }[];
    };
    assert.deepEqual(
      parsed.stacks.map((s) => s.stack),
      ["dev"],
    );
    const reports = parsed.stacks[0].reports;
    assert.ok(reports.some((r) => r.resource === "serving.knative.dev/v1 Route hello-dev/hello"));
    assert.ok(reports.every((r) => r.violations.length === 0));
  });
});
