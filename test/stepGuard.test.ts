// The step-size guard: pure decisions, then the program under mocks with the prod stack file
// and the traffic its last deployment left in the stack output `traffic`.
import { strict as assert } from "assert";
import {
  everyRevisionPassed,
  loadStackConfig,
  ProgramRun,
  runProgram,
  stackFiles,
  withStandInSecrets,
} from "../conformance/programRunner";
import { judgeStep, largeStepsBetween, readDeployedTraffic } from "../common/stepGuard";
import { TrafficTarget, trafficFor } from "../common/traffic";
import { withChanges } from "./support/resources";

const ROUTE = "kubernetes:serving.knative.dev/v1:Route";
const STACK_REFERENCE = "pulumi:pulumi:StackReference";

const APP = "hello";
const A = "hello-aaaaaaa";
const B = "hello-bbbbbbb";
const C = "hello-ccccccc";

/** The Route table of a stable revision and an optional candidate, as the stack builds it. */
function table(stable?: string, candidate?: string, percent = 0): TrafficTarget[] {
  return trafficFor({
    app: APP,
    stableRevision: stable,
    candidateRevision: candidate,
    canaryPercent: percent,
  });
}

const guard = { maxStepPercent: 50, allowLargeStep: false };

describe("step guard: decisions", () => {
  it("lets the documented rollout through: 5 -> 20 -> 50 -> 100, then promote", () => {
    const path = [
      table(A),
      table(A, B, 5),
      table(A, B, 20),
      table(A, B, 50),
      table(A, B, 100),
      table(B),
    ];
    for (let i = 1; i < path.length; i++) {
      assert.deepEqual(largeStepsBetween(path[i - 1], path[i], 50), [], `step ${i}`);
    }
  });

  it("names the revision, both shares and the override when a share grows too much", () => {
    const verdict = judgeStep(table(A, B, 20), table(A, B, 80), guard);
    assert.deepEqual(verdict.largeSteps, [{ target: B, before: 20, after: 80 }]);
    assert.match(verdict.refusal ?? "", /hello-bbbbbbb would go from 20 % to 80 % .*\(\+60\)/);
    assert.match(verdict.refusal ?? "", /canary-release:maxStepPercent = 50/);
    assert.match(verdict.refusal ?? "", /20 % -> 70 % -> 80 %/);
    assert.match(verdict.refusal ?? "", /pulumi config set canary-release:allowLargeStep true/);
    assert.equal(verdict.warning, undefined);
  });

  it("allows exactly maxStepPercent, and refuses one point more", () => {
    assert.deepEqual(largeStepsBetween(table(A, B, 10), table(A, B, 60), 50), []);
    assert.deepEqual(largeStepsBetween(table(A, B, 10), table(A, B, 61), 50), [
      { target: B, before: 10, after: 61 },
    ]);
  });

  it("tracks revisions, not tags: a promote is the candidate's share growing to 100", () => {
    assert.deepEqual(largeStepsBetween(table(A, B, 20), table(B), 50), [
      { target: B, before: 20, after: 100 },
    ]);
  });

  it("a new candidate starts from 0 %, also when it replaces another one", () => {
    assert.deepEqual(largeStepsBetween(table(A), table(A, B, 60), 50), [
      { target: B, before: 0, after: 60 },
    ]);
    assert.deepEqual(largeStepsBetween(table(A, B, 40), table(A, C, 40), 50), []);
    assert.deepEqual(largeStepsBetween(table(A, B, 40), table(A, C, 60), 50), [
      { target: C, before: 0, after: 60 },
    ]);
  });

  it("never stands in the way of a rollback: traffic returns to the previous stable revision", () => {
    assert.deepEqual(largeStepsBetween(table(A, B, 90), table(A, B, 0), 10), []);
    assert.deepEqual(largeStepsBetween(table(A, B, 90), table(A), 10), []);
  });

  it("pinning the bootstrap's latest revision is a step, and the refusal says when it is safe", () => {
    const verdict = judgeStep(table(), table(A), guard);
    assert.deepEqual(verdict.largeSteps, [{ target: A, before: 0, after: 100 }]);
    assert.match(verdict.refusal ?? "", /latest revision: if the revision named here is that one/);
  });

  it("the override lets a large step through with a warning that names it", () => {
    const verdict = judgeStep(table(A, B, 20), table(A, B, 80), { ...guard, allowLargeStep: true });
    assert.equal(verdict.refusal, undefined);
    assert.match(verdict.warning ?? "", /hello-bbbbbbb would go from 20 % to 80 %/);
    assert.match(verdict.warning ?? "", /pulumi config rm canary-release:allowLargeStep/);
  });

  it("a stack never deployed has nothing to compare with", () => {
    assert.deepEqual(judgeStep(undefined, table(A, B, 100), guard), { largeSteps: [] });
    assert.deepEqual(readDeployedTraffic(null), {});
  });

  it("refuses to guess from a `traffic` output that is not a traffic table", () => {
    for (const output of ["hello", [{ percent: 20 }], [{ revisionName: A, percent: "20" }], {}]) {
      assert.match(readDeployedTraffic(output).problem ?? "", /is not a traffic table/);
      const verdict = judgeStep(output, table(A), guard);
      assert.match(verdict.refusal ?? "", /cannot be checked.*allowLargeStep true/);
      const overridden = judgeStep(output, table(A), { ...guard, allowLargeStep: true });
      assert.equal(overridden.refusal, undefined);
      assert.match(overridden.warning ?? "", /cannot be checked/);
    }
  });
});

describe("step guard: the prod stack under mocks", () => {
  const prod = withStandInSecrets(loadStackConfig(stackFiles().prod));
  const base = withChanges(prod.config, {
    "canary-release:stableRevision": A,
    "canary-release:candidateRevision": B,
    "canary-release:canaryPercent": "20",
  });

  /** A preview of prod with `changes`, after a deployment that left `deployed` as `traffic`. */
  async function preview(
    changes: Readonly<Record<string, string | undefined>>,
    deployed?: TrafficTarget[],
  ): Promise<ProgramRun> {
    return runProgram({
      config: withChanges(base, changes),
      secretKeys: prod.secretKeys,
      stack: "prod",
      cluster: everyRevisionPassed,
      ...(deployed !== undefined ? { deployedOutputs: { traffic: deployed } } : {}),
    });
  }

  function routeTraffic(run: ProgramRun): unknown {
    assert.equal(run.error, undefined, `the program failed: ${run.error?.message}`);
    const route = run.resources.find((r) => r.type === ROUTE);
    return (route?.inputs.spec as { traffic?: unknown } | undefined)?.traffic;
  }

  it("prod (maxStepPercent 50) takes the documented rollout, each step measured from the last", async () => {
    assert.equal(prod.config["canary-release:maxStepPercent"], "50");
    const steps: Record<string, string | undefined>[] = [
      { "canary-release:candidateRevision": undefined, "canary-release:canaryPercent": "0" },
      { "canary-release:canaryPercent": "5" },
      { "canary-release:canaryPercent": "20" },
      { "canary-release:canaryPercent": "50" },
      { "canary-release:canaryPercent": "100" },
      {
        "canary-release:stableRevision": B,
        "canary-release:candidateRevision": undefined,
        "canary-release:canaryPercent": "0",
      },
    ];
    // Each preview reads the traffic output the update before it left.
    let deployed: TrafficTarget[] | undefined;
    for (const step of steps) {
      const run = await preview(step, deployed);
      assert.equal(run.error, undefined, `${JSON.stringify(step)}: ${run.error?.message}`);
      deployed = run.outputs.traffic as TrafficTarget[];
    }
    assert.deepEqual(deployed, table(B));
  });

  it("a fresh prod (the committed file): pinning its first revision needs allowLargeStep, once", async () => {
    // README.md, "A fresh prod": bootstrap, pin the revision that went live, first candidate.
    const fromCommitted = (
      changes: Readonly<Record<string, string | undefined>>,
      deployed?: TrafficTarget[],
    ): Promise<ProgramRun> =>
      runProgram({
        config: withChanges(prod.config, changes),
        secretKeys: prod.secretKeys,
        stack: "prod",
        cluster: everyRevisionPassed,
        ...(deployed !== undefined ? { deployedOutputs: { traffic: deployed } } : {}),
      });
    const bootstrap = await fromCommitted({});
    assert.deepEqual(routeTraffic(bootstrap), table());
    const stable = { "canary-release:stableRevision": A };

    const refused = await fromCommitted(stable, table());
    assert.match(refused.error?.message ?? "", /hello-aaaaaaa would go from 0 % to 100 %/);
    assert.match(
      refused.error?.message ?? "",
      /this update only pins it, and the override is safe/,
    );

    const pinned = await fromCommitted(
      { ...stable, "canary-release:allowLargeStep": "true" },
      table(),
    );
    assert.deepEqual(routeTraffic(pinned), table(A));
    assert.ok(
      pinned.logs.some((line) => /pulumi config rm canary-release:allowLargeStep/.test(line)),
      pinned.logs.join("\n"),
    );

    // Without the override again: the next push's revision joins as the candidate at 0 %.
    const candidate = await fromCommitted(
      { ...stable, "canary-release:candidateRevision": B },
      pinned.outputs.traffic as TrafficTarget[],
    );
    assert.deepEqual(routeTraffic(candidate), table(A, B, 0));
  });

  it("reads the last deployment from the stack's own full name", async () => {
    const run = await preview({}, table(A, B, 5));
    const reference = run.resources.find((r) => r.type === STACK_REFERENCE);
    assert.equal(reference?.readId, "organization/canary-release/prod");
  });

  it("first deployment: nothing deployed, any split goes", async () => {
    const run = await preview({ "canary-release:canaryPercent": "100" });
    assert.deepEqual(routeTraffic(run), table(A, B, 100));
  });

  it("an allowed step: 20 -> 50 applies the new split", async () => {
    const run = await preview({ "canary-release:canaryPercent": "50" }, table(A, B, 20));
    assert.deepEqual(routeTraffic(run), table(A, B, 50));
    assert.deepEqual(run.outputs.traffic, table(A, B, 50));
  });

  it("a too-large step: 20 -> 80 fails the preview before the Route gets any traffic", async () => {
    const run = await preview({ "canary-release:canaryPercent": "80" }, table(A, B, 20));
    assert.match(run.error?.message ?? "", /hello-bbbbbbb would go from 20 % to 80 %/);
    const route = run.resources.find((r) => r.type === ROUTE);
    assert.equal((route?.inputs.spec as { traffic?: unknown } | undefined)?.traffic, undefined);
  });

  it("a new candidate at a high percent is refused", async () => {
    const run = await preview(
      { "canary-release:candidateRevision": C, "canary-release:canaryPercent": "60" },
      table(A, B, 20),
    );
    assert.match(run.error?.message ?? "", /hello-ccccccc would go from 0 % to 60 %/);
  });

  it("an early promote (the candidate at 20 %) is refused", async () => {
    const run = await preview(
      {
        "canary-release:stableRevision": B,
        "canary-release:candidateRevision": undefined,
        "canary-release:canaryPercent": "0",
      },
      table(A, B, 20),
    );
    assert.match(run.error?.message ?? "", /hello-bbbbbbb would go from 20 % to 100 %/);
  });

  it("the override: allowLargeStep true applies the large step and warns", async () => {
    const run = await preview(
      { "canary-release:canaryPercent": "80", "canary-release:allowLargeStep": "true" },
      table(A, B, 20),
    );
    assert.deepEqual(routeTraffic(run), table(A, B, 80));
    assert.ok(
      run.logs.some((line) => /warning: .*hello-bbbbbbb would go from 20 % to 80 %/.test(line)),
      run.logs.join("\n"),
    );
  });

  it("a rollback from 80 % to 0 % is always allowed", async () => {
    const run = await preview({ "canary-release:canaryPercent": "0" }, table(A, B, 80));
    assert.deepEqual(routeTraffic(run), table(A, B, 0));
    assert.deepEqual(run.logs, []);
  });

  it("without a limit (maxStepPercent 100) the stack reads no previous deployment", async () => {
    const run = await preview({ "canary-release:maxStepPercent": undefined }, table(A, B, 0));
    assert.equal(
      run.resources.some((r) => r.type === STACK_REFERENCE),
      false,
    );
    assert.deepEqual(routeTraffic(run), table(A, B, 20));
  });
});
