// The canary library and command: rollout paths over a recording in-memory stack, the commands,
// argument errors that must not touch the stack, the stack file under git, and (with a real
// Pulumi CLI on PATH) one end-to-end run on a local file backend.
import { strict as assert } from "assert";
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import {
  CONFIG_KEYS,
  CanaryRefusedError,
  EXIT_CHANGED,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_OK,
  EXIT_REFUSED,
  EXIT_ROLLED_BACK,
  PROJECT_NAME,
  StackBusyError,
  UpFailedError,
  main,
  openPulumiStack,
  parseDuration,
  planProblems,
  promoteCandidate,
  readStatus,
  rollbackCanary,
  rolloutExitCode,
  runRollout,
  setCanaryPercent,
  stackFileDiff,
  commitStackFile,
  withConcurrentUpdateRetries,
  type CanaryAnalysisOptions,
  type AnalysisRequest,
  type AnalysisResult,
  type CliDeps,
  type OpenStackOptions,
  type RolloutEvent,
  type RolloutOptions,
  type StackDriver,
  openCluster,
  type OpenCluster,
} from "../automation";
import { trafficFor, type TrafficTarget } from "../common/traffic";
import { analysisWindow, interruptHandler, sampleIntervalFor } from "../automation/cli";
import { builtInMetricSet } from "../automation/metricSet";
import { readRolloutRecord } from "../automation/rolloutReport";
import { preflightOk } from "./support/analysisStubs";
import {
  noCluster,
  revision,
  servedRoute,
  startStandInCluster,
  type StandInCluster,
} from "./support/standInCluster";
import { FakeServer, sendJson } from "./support/fakeHttp";
import { promVector } from "./support/prometheus";
import { PROJECT } from "../config";
import { FakePulumiProject, fakePulumiProject } from "./support/fakePulumiProject";
import { PROD_CANARY_IN_PROGRESS, prodStackYaml } from "./support/prodStack";
import {
  MemoryStackDriver,
  concurrentUpdateError,
  scriptedAnalysis,
  type MemoryStackOptions,
} from "./support/memoryStackDriver";

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "automation", "canary.js");
const K = CONFIG_KEYS;
const STABLE = "hello-1a2b3c4";
const CANDIDATE = "hello-5d6e7f8";
const MINUTE = 60_000;

/** A prod-like stack at 0 % with a candidate, deployed. */
const BASE: Readonly<Record<string, string>> = {
  "canary-release:app": "hello",
  [K.namespace]: "hello",
  [K.stableRevision]: STABLE,
  [K.candidateRevision]: CANDIDATE,
  [K.canaryPercent]: "0",
};

function stack(config: Record<string, string> = {}, options: MemoryStackOptions = {}) {
  return new MemoryStackDriver({ ...options, config: { ...BASE, ...config } });
}

/** Sleep and clock that never wait: each sleep advances the clock and is recorded. */
function fakeTime(onSleep?: (ms: number, call: number) => void) {
  let now = Date.parse("2026-03-01T12:00:00Z");
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => new Date(now),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
      onSleep?.(ms, sleeps.length);
    },
  };
}

const set = (key: string, value: string): string => `set ${key}=${value}`;
const percent = (value: number): string => set(K.canaryPercent, String(value));

function rollout(
  driver: StackDriver,
  verdicts: Parameters<typeof scriptedAnalysis>[0],
  options: Partial<RolloutOptions> = {},
) {
  const time = fakeTime();
  const analysis = scriptedAnalysis<AnalysisRequest>(verdicts);
  const events: RolloutEvent[] = [];
  const run = runRollout(driver, {
    steps: [5, 20, 50],
    intervalMs: 2 * MINUTE,
    analyse: analysis.analyse,
    sleep: time.sleep,
    now: time.now,
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { run, time, analysis, events };
}

describe("canary rollout (automation/rollout.ts)", () => {
  // Issue 15's review: another command that changes the stack while the rollout waits between
  // steps must stop the rollout, never be written over.
  for (const [what, change, moved] of [
    ["a rollback by hand", { [K.canaryPercent]: "0" }, /canaryPercent: expected 5, found 0/],
    [
      "another candidate",
      { [K.candidateRevision]: "hello-9999999" },
      /candidateRevision: expected hello-5d6e7f8, found hello-9999999/,
    ],
  ] as const) {
    it(`stops when ${what} happens while it waits, and writes nothing over it (exit 6)`, async () => {
      const driver = stack();
      const time = fakeTime((_ms, call) => {
        if (call === 1) Object.assign(driver.config, change);
      });
      const analysis = scriptedAnalysis<AnalysisRequest>(["pass", "pass", "pass"]);
      const report = await runRollout(driver, {
        steps: [5, 20, 50],
        intervalMs: 2 * MINUTE,
        analyse: analysis.analyse,
        sleep: time.sleep,
        now: time.now,
      });
      assert.equal(report.status, "failed");
      assert.match(report.error ?? "", moved);
      assert.equal(rolloutExitCode(report), EXIT_CHANGED);
      assert.deepEqual(driver.writes, [percent(5), "up"], "nothing written after the change");
      for (const [key, value] of Object.entries(change)) assert.equal(driver.config[key], value);
    });
  }

  it("passes every step: set, up, wait, analyse, in that order", async () => {
    const driver = stack();
    const { run, time, analysis, events } = rollout(driver, ["pass", "pass", "pass"]);
    const report = await run;

    assert.equal(report.status, "completed");
    assert.equal(rolloutExitCode(report), EXIT_OK);
    assert.deepEqual(driver.writes, [percent(5), "up", percent(20), "up", percent(50), "up"]);
    assert.deepEqual(time.sleeps, [2 * MINUTE, 2 * MINUTE, 2 * MINUTE]);
    assert.deepEqual(
      analysis.requests.map((r) => [r.percent, r.attempt, r.namespace, r.revision]),
      [
        [5, 1, "hello", CANDIDATE],
        [20, 1, "hello", CANDIDATE],
        [50, 1, "hello", CANDIDATE],
      ],
    );
    // Each analysis looks at the window that just ended.
    assert.equal(analysis.requests[0].at.toISOString(), "2026-03-01T12:02:00.000Z");
    assert.equal(report.deployedPercent, 50);
    assert.equal(driver.config[K.canaryPercent], "50");
    assert.deepEqual(
      events.map((e) => e.type),
      ["plan", ...Array<string[]>(3).fill(["step", "deployed", "wait", "analysis"]).flat()],
    );
  });

  it("promotes after the last step with promote: one more update", async () => {
    const driver = stack({ [K.canaryPercent]: "50" });
    const report = await rollout(driver, ["pass"], { steps: [100], promote: true }).run;
    assert.equal(report.status, "completed");
    assert.equal(report.promoted, true);
    assert.deepEqual(driver.writes, [
      percent(100),
      "up",
      set(K.stableRevision, CANDIDATE),
      `rm ${K.candidateRevision}`,
      percent(0),
      "up",
    ]);
  });

  it("rolls back on a failed analysis: percent 0, one update, the rolled-back exit code", async () => {
    const driver = stack();
    const { run, analysis } = rollout(driver, ["pass", "fail"]);
    const report = await run;
    assert.equal(report.status, "rolled-back");
    assert.equal(rolloutExitCode(report), EXIT_ROLLED_BACK);
    assert.deepEqual(driver.writes, [percent(5), "up", percent(20), "up", percent(0), "up"]);
    assert.equal(analysis.requests.length, 2);
    assert.match(report.reason ?? "", /analysis failed at 20 %: scripted fail/);
    assert.equal(report.deployedPercent, 0);
    assert.equal(driver.deployed?.[K.canaryPercent], "0");
  });

  it("holds on inconclusive and analyses again after another interval", async () => {
    const driver = stack();
    const { run, time, analysis, events } = rollout(driver, ["inconclusive", "pass"], {
      steps: [5],
    });
    const report = await run;
    assert.equal(report.status, "completed");
    assert.deepEqual(driver.writes, [percent(5), "up"]);
    assert.deepEqual(time.sleeps, [2 * MINUTE, 2 * MINUTE]);
    assert.deepEqual(
      analysis.requests.map((r) => r.attempt),
      [1, 2],
    );
    assert.deepEqual(
      events.filter((e) => e.type === "wait").map((e) => (e.type === "wait" ? e.reason : "")),
      ["settle", "hold"],
    );
  });

  it("rolls back when the analysis stays inconclusive past --max-inconclusive (fail safe)", async () => {
    const driver = stack();
    const { run, analysis } = rollout(driver, ["inconclusive", "inconclusive", "inconclusive"], {
      steps: [5, 20],
      maxInconclusive: 2,
    });
    const report = await run;
    assert.equal(report.status, "rolled-back");
    assert.equal(analysis.requests.length, 3);
    assert.deepEqual(driver.writes, [percent(5), "up", percent(0), "up"]);
    assert.match(report.reason ?? "", /still inconclusive at 5 % after 3 attempts/);
  });

  it("counts an analysis that throws as inconclusive", async () => {
    const driver = stack();
    const { run } = rollout(driver, [new Error("connect ECONNREFUSED"), "pass"], { steps: [5] });
    const report = await run;
    assert.equal(report.status, "completed");
    assert.equal(report.analyses[0].result.verdict, "inconclusive");
    assert.match(report.analyses[0].result.reason, /analysis error: connect ECONNREFUSED/);
  });

  it("counts a result without a verdict as inconclusive", async () => {
    const driver = stack();
    let calls = 0;
    const report = await runRollout(driver, {
      steps: [5],
      intervalMs: MINUTE,
      maxInconclusive: 0,
      analyse: async () => {
        calls += 1;
        return { reason: "nothing" } as unknown as AnalysisResult;
      },
      ...fakeTime(),
    });
    assert.equal(calls, 1);
    assert.equal(report.status, "rolled-back");
    assert.match(report.analyses[0].result.reason, /analysis error: no verdict/);
  });

  it("a failed up mid-rollout writes the deployed percent back and keeps Pulumi's message", async () => {
    const driver = stack(
      {},
      {
        upScript: (call) =>
          call === 2
            ? new Error("error: update failed: Route hello: admission webhook denied")
            : undefined,
      },
    );
    const { run, analysis } = rollout(driver, ["pass", "pass"]);
    const report = await run;
    assert.equal(report.status, "failed");
    assert.equal(rolloutExitCode(report), EXIT_ERROR);
    assert.deepEqual(driver.writes, [
      percent(5),
      "up",
      percent(20),
      "up failed: error: update failed: Route hello: admission webhook denied",
      percent(5),
    ]);
    assert.equal(driver.config[K.canaryPercent], "5");
    assert.equal(report.deployedPercent, 5);
    assert.match(report.error ?? "", /admission webhook denied/);
    assert.match(report.error ?? "", /set back to the values deployed before: canaryPercent 5/);
    assert.equal(analysis.requests.length, 1, "no analysis after the failed update");
  });

  it("a failed rollback is a failure that says the candidate still has traffic", async () => {
    const driver = stack(
      {},
      { upScript: (call) => (call === 2 ? new Error("error: cluster unreachable") : undefined) },
    );
    const report = await rollout(driver, ["fail"], { steps: [5, 20] }).run;
    assert.equal(report.status, "failed");
    assert.deepEqual(driver.writes, [
      percent(5),
      "up",
      percent(0),
      "up failed: error: cluster unreachable",
      percent(5),
    ]);
    assert.match(report.error ?? "", /ROLLBACK FAILED: hello-5d6e7f8 may still receive 5 %/);
    assert.match(report.error ?? "", /cluster unreachable/);
  });

  it("retries an update held off by another one, with backoff, then goes on", async () => {
    const inner = stack({}, { conflicts: 2 });
    const time = fakeTime();
    const retries: number[] = [];
    const driver = withConcurrentUpdateRetries(inner, {
      sleep: time.sleep,
      policy: { attempts: 4, initialDelayMs: 1_000, maxDelayMs: 1_500 },
      onRetry: (retry) => retries.push(retry.attempt),
    });
    const summary = await driver.up();
    assert.equal(summary.result, "succeeded");
    assert.deepEqual(time.sleeps, [1_000, 1_500], "doubled, capped at maxDelayMs");
    assert.deepEqual(retries, [1, 2]);
    assert.deepEqual(inner.log, ["conflict", "conflict", "up"]);
  });

  it("gives up after the bounded attempts with a clear StackBusyError", async () => {
    const inner = stack({}, { conflicts: 10 });
    const time = fakeTime();
    const driver = withConcurrentUpdateRetries(inner, {
      sleep: time.sleep,
      policy: { attempts: 3, initialDelayMs: 1_000, maxDelayMs: 60_000 },
    });
    await assert.rejects(driver.up(), (error: unknown) => {
      assert.ok(error instanceof StackBusyError);
      assert.match(
        error.message,
        /another update is in progress; gave up after 3 attempts over 3s/,
      );
      assert.match(error.message, /\[409\] Conflict/);
      return true;
    });
    assert.deepEqual(time.sleeps, [1_000, 2_000]);
    assert.equal(inner.upCalls, 0);
  });

  it("a rollout whose update stays locked fails with the config written back", async () => {
    const time = fakeTime();
    const inner = stack({}, { conflicts: 0 });
    let conflicts = 0;
    // The first config write goes through; every update after it is held off.
    const locked: StackDriver = {
      ...inner,
      stackName: inner.stackName,
      getConfig: (key) => inner.getConfig(key),
      getAllConfig: () => inner.getAllConfig(),
      setConfig: (key, value) => inner.setConfig(key, value),
      removeConfig: (key) => inner.removeConfig(key),
      outputs: () => inner.outputs(),
      up: async () => {
        conflicts += 1;
        throw concurrentUpdateError();
      },
    };
    const driver = withConcurrentUpdateRetries(locked, {
      sleep: time.sleep,
      policy: { attempts: 3, initialDelayMs: 10, maxDelayMs: 10 },
    });
    const report = await rollout(driver, ["pass"]).run;
    assert.equal(report.status, "failed");
    assert.equal(conflicts, 3);
    assert.deepEqual(inner.writes, [percent(5), percent(0)]);
    assert.match(report.error ?? "", /gave up after 3 attempts/);
  });

  it("stops between actions when aborted, says where, and leaves the deployed step", async () => {
    const controller = new AbortController();
    const driver = stack();
    const time = fakeTime((_, call) => {
      if (call === 2) controller.abort();
    });
    const analysis = scriptedAnalysis<AnalysisRequest>(["pass", "pass", "pass"]);
    const report = await runRollout(driver, {
      steps: [5, 20, 50],
      intervalMs: MINUTE,
      analyse: analysis.analyse,
      sleep: time.sleep,
      now: time.now,
      signal: controller.signal,
    });
    assert.equal(report.status, "interrupted");
    assert.equal(rolloutExitCode(report), EXIT_INTERRUPTED);
    assert.deepEqual(driver.writes, [percent(5), "up", percent(20), "up"]);
    assert.equal(analysis.requests.length, 1, "no analysis after the abort");
    assert.match(report.reason ?? "", /while waiting at step 2\/3, before its analysis/);
    assert.match(report.reason ?? "", /canaryPercent 20 is deployed/);
  });

  it("an abort during an update lets it finish and stops before the next action", async () => {
    const controller = new AbortController();
    const driver = stack({}, { onUp: () => controller.abort() });
    const analysis = scriptedAnalysis<AnalysisRequest>(["pass"]);
    const report = await runRollout(driver, {
      steps: [5, 20],
      intervalMs: MINUTE,
      analyse: analysis.analyse,
      ...fakeTime(),
      signal: controller.signal,
    });
    assert.equal(report.status, "interrupted");
    assert.deepEqual(driver.writes, [percent(5), "up"]);
    assert.equal(driver.config[K.canaryPercent], "5");
    assert.match(report.reason ?? "", /before waiting at step 1\/2/);
  });

  it("an update that Ctrl-C cancelled reports the interruption, config written back", async () => {
    const controller = new AbortController();
    const driver = stack(
      {},
      {
        upScript: (call) => {
          if (call !== 2) return undefined;
          controller.abort();
          return new Error("error: update canceled");
        },
      },
    );
    const report = await runRollout(driver, {
      steps: [5, 20],
      intervalMs: MINUTE,
      analyse: scriptedAnalysis<AnalysisRequest>(["pass"]).analyse,
      ...fakeTime(),
      signal: controller.signal,
    });
    assert.equal(report.status, "interrupted");
    assert.deepEqual(driver.writes, [
      percent(5),
      "up",
      percent(20),
      "up failed: error: update canceled",
      percent(5),
    ]);
    assert.match(report.reason ?? "", /during the update to canaryPercent 20 \(step 2\/2\)/);
    assert.match(report.error ?? "", /update canceled/);
  });

  describe("refuses a plan before any write", () => {
    const refused = async (
      steps: number[],
      config: Record<string, string> = {},
      options: MemoryStackOptions = {},
    ): Promise<string> => {
      const driver = stack(config, options);
      const analysis = scriptedAnalysis<AnalysisRequest>([]);
      let message = "";
      await assert.rejects(
        runRollout(driver, { steps, intervalMs: MINUTE, analyse: analysis.analyse, ...fakeTime() }),
        (error: unknown) => {
          assert.ok(error instanceof CanaryRefusedError, String(error));
          message = error.message;
          return true;
        },
      );
      assert.deepEqual(driver.log, [], "nothing written, no update");
      assert.equal(analysis.requests.length, 0);
      return message;
    };

    it("steps that do not strictly increase", async () => {
      assert.match(await refused([5, 20, 20]), /steps must strictly increase: 20 then 20/);
      assert.match(await refused([50, 20]), /50 then 20/);
    });

    it("steps outside 1..100 (config.ts's range, and above the current percent)", async () => {
      assert.match(
        await refused([5, 120]),
        /step 120: canaryPercent must be a whole number from 0 to 100/,
      );
      assert.match(await refused([0, 5]), /the first step \(0\) must be above the current/);
    });

    it("a first step not above the current percent", async () => {
      assert.match(
        await refused([20, 50], { [K.canaryPercent]: "20" }),
        /the first step \(20\) must be above the current canaryPercent \(20\)/,
      );
    });

    it("an increase above maxStepPercent, the one from the current percent included", async () => {
      const message = await refused([30, 50], {
        [K.canaryPercent]: "5",
        [K.maxStepPercent]: "20",
      });
      assert.match(
        message,
        /5 -> 30 raises the share of hello-5d6e7f8 by 25 percentage points, more than canary-release:maxStepPercent = 20/,
      );
      assert.doesNotMatch(message, /30 -> 50/);
      assert.match(
        await refused([5, 20, 50], { [K.maxStepPercent]: "20" }),
        /20 -> 50 raises the share of hello-5d6e7f8 by 30 percentage points/,
      );
    });

    it("no candidate", async () => {
      assert.match(
        await refused([5], { [K.candidateRevision]: "" }),
        /would refuse canaryPercent 5:\n.*canary-release:canaryPercent.*must be 0 without a candidate/s,
      );
    });

    it("config that is not deployed", async () => {
      const driver = stack();
      driver.config[K.canaryPercent] = "30";
      await assert.rejects(
        runRollout(driver, {
          steps: [50],
          intervalMs: MINUTE,
          analyse: scriptedAnalysis<AnalysisRequest>([]).analyse,
          ...fakeTime(),
        }),
        /differs from what the last update deployed:\n {2}- canaryPercent: config 30, deployed 0/,
      );
      assert.deepEqual(driver.log, []);
    });

    it("an analysis whose preflight fails (e.g. Prometheus unreachable)", async () => {
      const driver = stack();
      const targets: unknown[] = [];
      await assert.rejects(
        runRollout(driver, {
          steps: [5],
          intervalMs: MINUTE,
          analyse: scriptedAnalysis<AnalysisRequest>([]).analyse,
          preflight: async (target) => {
            targets.push(target);
            throw new Error("Prometheus at http://prometheus:9090 could not be reached");
          },
          ...fakeTime(),
        }),
        /the analysis cannot run, so no traffic was moved: Prometheus at .* could not be reached/,
      );
      assert.deepEqual(driver.log, []);
      assert.equal(targets.length, 1);
      assert.deepEqual(Object.keys(targets[0] as object).sort(), [
        "at",
        "candidate",
        "namespace",
        "stable",
      ]);
    });

    it("planProblems lists every problem at once", () => {
      assert.deepEqual(
        planProblems([5, 5], { app: "hello", canaryPercent: 10, candidateRevision: CANDIDATE }),
        [
          "steps must strictly increase: 5 then 5",
          "the first step (5) must be above the current canaryPercent (10); start the steps above it",
        ],
      );
    });
  });
});

describe("canary step, promote, rollback, status (automation/operations.ts)", () => {
  it("step: one config write, one update", async () => {
    const driver = stack();
    const result = await setCanaryPercent(driver, 20);
    assert.deepEqual(driver.writes, [percent(20), "up"]);
    assert.equal(result.message, "canary prod: canaryPercent 20");
    assert.deepEqual(result.previous, { [K.canaryPercent]: "0" });
  });

  it("step --no-up only writes the config", async () => {
    const driver = stack();
    await setCanaryPercent(driver, 20, { up: false });
    assert.deepEqual(driver.writes, [percent(20)]);
  });

  it("step refuses a percent above 0 without a candidate, and any value outside 0..100", async () => {
    const driver = stack({ [K.candidateRevision]: "" });
    delete driver.config[K.candidateRevision];
    await assert.rejects(setCanaryPercent(driver, 20), (error: unknown) => {
      assert.ok(error instanceof CanaryRefusedError);
      // config.ts's own words, naming the key: the command keeps no rule of its own.
      assert.match(
        error.message,
        /canary-release:canaryPercent = "20": must be 0 without a candidate: set canary-release:candidateRevision first/,
      );
      assert.match(error.message, /nothing written/);
      return true;
    });
    await assert.rejects(setCanaryPercent(driver, 120), /canaryPercent = "120": must be .*0 .*100/);
    await assert.rejects(setCanaryPercent(driver, 2.5), /canaryPercent = "2.5": must be/);
    assert.deepEqual(driver.log, []);
    // 0 is accepted without a candidate; here it is deployed already, so nothing runs.
    assert.equal((await setCanaryPercent(driver, 0)).unchanged, true);
    assert.deepEqual(driver.writes, []);
  });

  it("a stack file invalid before the change is named as such, and nothing is written", async () => {
    const driver = stack({ "canary-release:domain": "Not A Domain" });
    await assert.rejects(rollbackCanary(driver), (error: unknown) => {
      assert.ok(error instanceof CanaryRefusedError);
      assert.match(error.message, /invalid already, before this change/);
      assert.match(error.message, /canary-release:domain/);
      return true;
    });
    assert.deepEqual(driver.log, []);
  });

  it("a failed update restores the config and keeps Pulumi's message", async () => {
    const driver = stack(
      { [K.canaryPercent]: "5" },
      {
        upScript: () => new Error("code: 255\n stderr: error: preview failed: candidate not Ready"),
      },
    );
    await assert.rejects(setCanaryPercent(driver, 20), (error: unknown) => {
      assert.ok(error instanceof UpFailedError);
      assert.match(error.message, /pulumi up failed on stack prod \(canaryPercent 20\)/);
      assert.match(error.message, /candidate not Ready/);
      assert.match(error.message, /set back to the values deployed before: canaryPercent 5/);
      return true;
    });
    assert.equal(driver.config[K.canaryPercent], "5");
  });

  it("promote: candidate becomes stable, candidate removed, percent 0, one update", async () => {
    const driver = stack({ [K.canaryPercent]: "100" });
    const result = await promoteCandidate(driver);
    assert.deepEqual(driver.writes, [
      set(K.stableRevision, CANDIDATE),
      `rm ${K.candidateRevision}`,
      percent(0),
      "up",
    ]);
    assert.equal(result.message, `canary prod: promote ${CANDIDATE}, canaryPercent 0`);
    assert.equal(driver.config[K.stableRevision], CANDIDATE);
    assert.equal(driver.config[K.candidateRevision], undefined);
  });

  it("promote refuses without a candidate", async () => {
    const driver = stack();
    delete driver.config[K.candidateRevision];
    await assert.rejects(promoteCandidate(driver), (error: unknown) => {
      assert.ok(error instanceof CanaryRefusedError);
      assert.match(error.message, /nothing to promote/);
      return true;
    });
    assert.deepEqual(driver.log, []);
  });

  it("a failed promote puts all three keys back", async () => {
    const driver = stack(
      { [K.canaryPercent]: "100" },
      { upScript: () => new Error("error: update failed") },
    );
    await assert.rejects(promoteCandidate(driver), UpFailedError);
    assert.equal(driver.config[K.stableRevision], STABLE);
    assert.equal(driver.config[K.candidateRevision], CANDIDATE);
    assert.equal(driver.config[K.canaryPercent], "100");
  });

  it("rollback: percent 0, one update", async () => {
    const driver = stack({ [K.canaryPercent]: "50" });
    await rollbackCanary(driver);
    assert.deepEqual(driver.writes, [percent(0), "up"]);
  });

  it("status: config, what is deployed, and what is pending", async () => {
    const driver = stack({ [K.canaryPercent]: "20" });
    driver.config[K.canaryPercent] = "30";
    const status = await readStatus(driver);
    assert.equal(status.config.canaryPercent, 30);
    assert.deepEqual(status.deployed, {
      stableRevision: STABLE,
      candidateRevision: CANDIDATE,
      canaryPercent: 20,
    });
    assert.deepEqual(status.pending, ["canaryPercent: config 30, deployed 20"]);
    assert.deepEqual(status.candidateSmokeTest, {
      state: "passed",
      result: { status: 200, latencyMs: 12 },
    });
    assert.deepEqual(driver.log, [], "status writes nothing");
  });

  it("uses the project's config namespace", () => {
    assert.equal(PROJECT_NAME, PROJECT);
  });
});

/** A temporary project directory with the real Pulumi.yaml and Pulumi.prod.yaml. */
function tempProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-cli-"));
  fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  fs.copyFileSync(path.join(ROOT, "Pulumi.prod.yaml"), path.join(dir, "Pulumi.prod.yaml"));
  return dir;
}

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly opened: OpenStackOptions[];
}

async function cli(
  argv: string[],
  options: {
    cwd: string;
    driver?: StackDriver;
    verdicts?: Parameters<typeof scriptedAnalysis>[0];
    analysisRequests?: CanaryAnalysisOptions[];
    openCluster?: OpenCluster;
    signal?: AbortSignal;
    isTerminal?: boolean;
  },
): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const opened: OpenStackOptions[] = [];
  const analysis = scriptedAnalysis<CanaryAnalysisOptions>(options.verdicts ?? []);
  const deps: CliDeps = {
    cwd: options.cwd,
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    openStack: async (open) => {
      opened.push(open);
      if (options.driver === undefined) throw new Error("this test opens no stack");
      return options.driver;
    },
    analyse: async (request) => {
      options.analysisRequests?.push(request);
      return analysis.analyse(request);
    },
    preflight: preflightOk,
    openCluster: options.openCluster ?? noCluster,
    ...fakeTime(),
    retryPolicy: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.isTerminal !== undefined ? { isTerminal: options.isTerminal } : {}),
  };
  const code = await main(argv, deps);
  return { code, stdout, stderr, opened };
}

const ROLLOUT_FLAGS = [
  "--prometheus",
  "http://prometheus:9090",
  "--min-success-rate",
  "99",
  "--max-p99-ms",
  "500",
];

/** `canary rollout --stack prod --steps STEPS ...rest`. */
const rolloutArgs = (steps: string, ...rest: string[]): string[] => [
  "rollout",
  "--stack",
  "prod",
  "--steps",
  steps,
  ...rest,
];

describe("canary command (automation/cli.ts)", () => {
  let project: string;
  beforeEach(() => {
    project = tempProject();
  });
  afterEach(() => fs.rmSync(project, { recursive: true, force: true }));

  for (const command of [
    "status",
    "revisions",
    "start",
    "step",
    "promote",
    "rollback",
    "rollout",
  ]) {
    it(`${command} --help shows usage and the exit codes`, async () => {
      const run = await cli([command, "--help"], { cwd: project });
      assert.equal(run.code, EXIT_OK);
      assert.match(run.stdout, new RegExp(`Usage: canary ${command}`));
      assert.match(run.stdout, /--stack <name>/);
      assert.match(run.stdout, /Exit codes:\n {2}0 {4}done/);
      assert.match(run.stdout, /3 {4}rolled back/);
      assert.deepEqual(run.opened, []);
    });
  }

  const refusals: Array<[string, string[], RegExp]> = [
    [
      "percent 120",
      ["step", "120", "--stack", "prod"],
      /value '120' is invalid for argument 'percent'.*0 to 100/,
    ],
    ["percent 2.5", ["step", "2.5", "--stack", "prod"], /whole number from 0 to 100/],
    [
      "an unknown flag",
      ["status", "--stak", "prod"],
      /unknown option '--stak'[\s\S]*Did you mean --stack\?/,
    ],
    ["a missing --stack", ["rollback"], /required option '-s, --stack <name>' not specified/],
    [
      "steps not increasing",
      ["rollout", "--stack", "prod", "--steps", "5,20,10", ...ROLLOUT_FLAGS],
      /steps must strictly increase: 20 then 10/,
    ],
    [
      "a step above 100",
      ["rollout", "--stack", "prod", "--steps", "50,120", ...ROLLOUT_FLAGS],
      /step 120: canaryPercent must be a whole number from 0 to 100/,
    ],
    [
      "a bad interval",
      ["rollout", "--stack", "prod", "--steps", "5", "--interval", "2", ...ROLLOUT_FLAGS],
      /--interval <duration>' argument '2' is invalid.*like 30s, 2m/,
    ],
    [
      "a missing --prometheus",
      [
        "rollout",
        "--stack",
        "prod",
        "--steps",
        "5",
        "--min-success-rate",
        "99",
        "--max-p99-ms",
        "1",
      ],
      /required option '--prometheus <url>' not specified/,
    ],
    ["no command", [], /Usage: canary/],
  ];
  for (const [what, argv, message] of refusals) {
    it(`refuses ${what} with exit ${EXIT_REFUSED}, without opening the stack`, async () => {
      const before = fs.readFileSync(path.join(project, "Pulumi.prod.yaml"), "utf8");
      const run = await cli(argv, { cwd: project, driver: stack() });
      assert.equal(run.code, EXIT_REFUSED, run.stderr);
      assert.match(run.stderr, message);
      assert.deepEqual(run.opened, [], "the stack was never opened");
      assert.equal(fs.readFileSync(path.join(project, "Pulumi.prod.yaml"), "utf8"), before);
    });
  }

  for (const [what, argv, message] of refusals.filter(([, argv]) => argv.length > 0)) {
    it(`--json answers ${what} with one JSON object on stdout, exit ${EXIT_REFUSED}`, async () => {
      const run = await cli([...argv, "--json"], { cwd: project, driver: stack() });
      assert.equal(run.code, EXIT_REFUSED);
      const answer = JSON.parse(run.stdout) as { ok: boolean; exitCode: number; error: string };
      assert.deepEqual([answer.ok, answer.exitCode], [false, EXIT_REFUSED]);
      assert.match(answer.error, message);
      assert.equal(run.stderr, "", "nothing but the object");
    });
  }

  it("refuses an unknown stack by name, listing the stacks here, before Pulumi is asked", async () => {
    const run = await cli(["step", "20", "--stack", "nosuch"], { cwd: project, driver: stack() });
    assert.equal(run.code, EXIT_REFUSED);
    assert.match(
      run.stderr,
      /unknown stack nosuch: there is no Pulumi\.nosuch\.yaml in .* \(stacks with a stack file here: prod\)/,
    );
    assert.deepEqual(run.opened, []);
  });

  it("step to the percent already deployed changes nothing and says so", async () => {
    const driver = stack({ [K.canaryPercent]: "20" });
    const run = await cli(["step", "20", "--stack", "prod"], { cwd: project, driver });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.match(run.stdout, /canaryPercent is 20 already, and deployed: nothing changed/);
    assert.deepEqual(driver.writes, [], "no write, no update");
    const json = await cli(["step", "20", "--stack", "prod", "--json"], { cwd: project, driver });
    const answer = JSON.parse(json.stdout) as { unchanged: boolean; deployed: boolean };
    assert.deepEqual([answer.unchanged, answer.deployed], [true, false]);
    // Written but not deployed: the step deploys it.
    const pending = stack({ [K.canaryPercent]: "20" }, { deployed: false });
    const deploy = await cli(["step", "20", "--stack", "prod"], { cwd: project, driver: pending });
    assert.equal(deploy.code, EXIT_OK, deploy.stderr);
    assert.deepEqual(pending.writes.slice(-1), ["up"]);
  });

  it("refuses to run outside a Pulumi project", async () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "canary-none-"));
    try {
      const run = await cli(["status", "--stack", "prod"], { cwd: elsewhere, driver: stack() });
      assert.equal(run.code, EXIT_REFUSED);
      assert.match(run.stderr, /no Pulumi.yaml in .* or any directory above it/);
      assert.deepEqual(run.opened, []);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("finds the project directory from a subdirectory", async () => {
    const sub = path.join(project, "a", "b");
    fs.mkdirSync(sub, { recursive: true });
    const run = await cli(["status", "--stack", "prod"], { cwd: sub, driver: stack() });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.deepEqual(run.opened, [{ stackName: "prod", workDir: project }]);
  });

  it("refuses --commit outside a git checkout before opening the stack", async () => {
    const run = await cli(["step", "20", "--stack", "prod", "--commit"], {
      cwd: project,
      driver: stack(),
    });
    assert.equal(run.code, EXIT_REFUSED);
    assert.match(run.stderr, /--commit: .* is not a git checkout/);
    assert.deepEqual(run.opened, []);
  });

  it("step without a candidate is refused with exit 2 and no write", async () => {
    const driver = stack();
    delete driver.config[K.candidateRevision];
    const run = await cli(["step", "20", "--stack", "prod"], { cwd: project, driver });
    assert.equal(run.code, EXIT_REFUSED);
    assert.match(run.stderr, /refused: canaryPercent 20 refused, nothing written/);
    assert.match(run.stderr, /must be 0 without a candidate: set canary-release:candidateRevision/);
    assert.deepEqual(driver.log, []);
  });

  it("step --json prints one JSON object; progress goes to stderr", async () => {
    const driver = stack();
    const run = await cli(["step", "20", "--stack", "prod", "--json"], { cwd: project, driver });
    assert.equal(run.code, EXIT_OK, run.stderr);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(result.ok, true);
    assert.equal(result.message, "canary prod: canaryPercent 20");
    assert.deepEqual(result.change, { [K.canaryPercent]: "20" });
    assert.match(run.stderr, /done: canary prod: canaryPercent 20 \(9 unchanged, 1 update\)/);
  });

  it("a failed up exits 1 with Pulumi's message, in --json too", async () => {
    const driver = stack({}, { upScript: () => new Error("error: Route hello: forbidden") });
    const human = await cli(["rollback", "--stack", "prod"], { cwd: project, driver });
    assert.equal(human.code, EXIT_ERROR);
    assert.match(
      human.stderr,
      /error: pulumi up failed on stack prod[\s\S]*Route hello: forbidden/,
    );
    const json = await cli(["rollback", "--stack", "prod", "--json"], { cwd: project, driver });
    assert.equal(json.code, EXIT_ERROR);
    const result = JSON.parse(json.stdout) as { ok: boolean; exitCode: number; error: string };
    assert.deepEqual([result.ok, result.exitCode], [false, EXIT_ERROR]);
    assert.match(result.error, /Route hello: forbidden/);
  });

  it("--verbose streams Pulumi's output", async () => {
    const run = await cli(["rollback", "--stack", "prod", "--verbose"], {
      cwd: project,
      driver: stack(),
    });
    assert.equal(run.code, EXIT_OK);
    assert.match(run.stdout, /Updating \(prod\)/);
    const quiet = await cli(["rollback", "--stack", "prod"], { cwd: project, driver: stack() });
    assert.doesNotMatch(quiet.stdout, /Updating \(prod\)/);
  });

  it("status prints stable, candidate, percent, smoke test and URLs; --json one object", async () => {
    const driver = stack({ [K.canaryPercent]: "20" });
    const human = await cli(["status", "--stack", "prod"], { cwd: project, driver });
    assert.equal(human.code, EXIT_OK);
    assert.match(human.stdout, /stable +hello-1a2b3c4/);
    assert.match(human.stdout, /candidate +hello-5d6e7f8 at 20 %/);
    assert.match(human.stdout, /smoke test +passed · HTTP 200 in 12 ms/);
    assert.match(human.stdout, /url candidate +http:\/\/candidate-hello/);
    const json = await cli(["status", "--stack", "prod", "--json"], { cwd: project, driver });
    const status = JSON.parse(json.stdout) as { deployed: { canaryPercent: number } };
    assert.equal(status.deployed.canaryPercent, 20);
  });

  it("rollout shows progress and exits 3 when it rolled back", async () => {
    const driver = stack();
    const requests: CanaryAnalysisOptions[] = [];
    const run = await cli(
      ["rollout", "--stack", "prod", "--steps", "5,20", "--interval", "2m", ...ROLLOUT_FLAGS],
      { cwd: project, driver, verdicts: ["pass", "fail"], analysisRequests: requests },
    );
    assert.equal(run.code, EXIT_ROLLED_BACK, run.stderr);
    assert.match(run.stdout, /step 1\/2: canaryPercent 5, pulumi up/);
    assert.match(run.stdout, /waiting 2m \(until 2026-03-01T12:02:00.000Z\) before analysing 5 %/);
    assert.match(run.stdout, /analysis at 20 % \(attempt 1\): FAIL: scripted fail/);
    assert.match(run.stdout, /rolled back: analysis failed at 20 %/);
    assert.deepEqual(driver.writes, [percent(5), "up", percent(20), "up", percent(0), "up"]);
    assert.deepEqual(requests[0], {
      prometheusUrl: "http://prometheus:9090",
      namespace: "hello",
      candidate: CANDIDATE,
      stable: STABLE,
      window: "120s",
      sampleInterval: "30s",
      at: new Date("2026-03-01T12:02:00Z"),
      minRequests: 50,
      significance: 0.01,
      // The thresholds given, and the comparison with the default margins.
      metricSet: builtInMetricSet("opencensus", {
        minSuccessRate: 99,
        maxP99Ms: 500,
        successMargin: 0.5,
        latencyMargin: 20,
      }),
    });
  });

  it("rollout: a hold judges all the step's traffic so far, in samples of a tenth of it", async () => {
    const requests: CanaryAnalysisOptions[] = [];
    const run = await cli(rolloutArgs("5", "--interval", "10m", ...ROLLOUT_FLAGS), {
      cwd: project,
      driver: stack(),
      verdicts: ["inconclusive", "inconclusive", "pass"],
      analysisRequests: requests,
    });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.deepEqual(
      requests.map((r) => [r.window, r.sampleInterval]),
      [
        ["600s", "60s"],
        ["1200s", "120s"],
        ["1800s", "180s"],
      ],
    );
  });

  it("analysisWindow and sampleIntervalFor: the rules behind those windows", () => {
    const at = new Date("2026-03-01T13:00:00Z");
    const started = (minutesAgo: number) => new Date(at.getTime() - minutesAgo * MINUTE);
    // A window longer than the step so far stays as given (the user chose it).
    assert.equal(
      analysisWindow(10 * MINUTE, { attempt: 1, at, stepStartedAt: started(2) }),
      10 * MINUTE,
    );
    // Holding: as many windows as attempts, back to the step's start at most.
    assert.equal(
      analysisWindow(5 * MINUTE, { attempt: 3, at, stepStartedAt: started(15) }),
      15 * MINUTE,
    );
    assert.equal(
      analysisWindow(5 * MINUTE, { attempt: 3, at, stepStartedAt: started(12) }),
      12 * MINUTE,
    );
    assert.equal(sampleIntervalFor(5 * MINUTE), 30_000);
    assert.equal(sampleIntervalFor(MINUTE), 30_000, "at least 30 s");
    assert.equal(sampleIntervalFor(20_000), 20_000, "at most the window");
    assert.equal(sampleIntervalFor(20 * MINUTE), 120_000);
    assert.equal(sampleIntervalFor(20 * MINUTE, 10_000), 10_000, "as given");
  });

  it("rollout --report writes the record and its page, and names them", async () => {
    const dir = path.join(project, "reports");
    const run = await cli(rolloutArgs("5,20", "--report", dir, "--json", ...ROLLOUT_FLAGS), {
      cwd: project,
      driver: stack(),
      verdicts: ["pass", "inconclusive", "fail"],
    });
    assert.equal(run.code, EXIT_ROLLED_BACK, run.stderr);
    const result = JSON.parse(run.stdout) as { reportFiles: { json: string; html: string } };
    assert.deepEqual(fs.readdirSync(dir).sort(), [
      "rollout-prod-20260301T121500Z.html",
      "rollout-prod-20260301T121500Z.json",
    ]);
    assert.equal(result.reportFiles.json, path.join(dir, "rollout-prod-20260301T121500Z.json"));
    const record = readRolloutRecord(result.reportFiles.json);
    assert.deepEqual(
      [record.status, record.candidate, record.stable, record.analysis.namespace],
      ["rolled-back", CANDIDATE, STABLE, "hello"],
    );
    assert.deepEqual(
      record.analyses.map((a) => [a.percent, a.attempt, a.result.verdict]),
      [
        [5, 1, "pass"],
        [20, 1, "inconclusive"],
        [20, 2, "fail"],
      ],
    );
    assert.equal(record.analysis.metricSet?.source, "built-in opencensus");
    assert.equal(record.startedAt, "2026-03-01T12:00:00.000Z");
    assert.match(
      fs.readFileSync(result.reportFiles.html, "utf8"),
      /<h1>Rollout of hello-5d6e7f8 on stack prod: rolled back<\/h1>/,
    );
    assert.match(run.stderr, /report: .*rollout-prod-20260301T121500Z\.html/);
  });

  it("rollout refuses a step of 100 % when comparing, and flags that judge nothing", async () => {
    const driver = stack();
    const at100 = await cli(rolloutArgs("50,100", ...ROLLOUT_FLAGS), {
      cwd: project,
      driver,
    });
    assert.equal(at100.code, EXIT_REFUSED);
    assert.match(
      at100.stderr,
      /at 100 % the stable revision serves nothing to compare the candidate with/,
    );
    const nothing = await cli(rolloutArgs("5", "--prometheus", "http://p:9090", "--no-compare"), {
      cwd: project,
      driver,
    });
    assert.equal(nothing.code, EXIT_REFUSED);
    assert.match(
      nothing.stderr,
      /--no-compare judges by absolute thresholds only: give both --min-success-rate and --max-p99-ms/,
    );
    // One threshold alone would leave the other metric unjudged: a 3 % 5xx candidate would pass.
    const half = await cli(
      rolloutArgs("5", "--prometheus", "http://p:9090", "--no-compare", "--max-p99-ms", "500"),
      { cwd: project, driver },
    );
    assert.equal(half.code, EXIT_REFUSED);
    assert.match(half.stderr, /give both --min-success-rate and --max-p99-ms/);
    const marginIgnored = await cli(
      rolloutArgs("5", "--no-compare", "--success-margin", "3", ...ROLLOUT_FLAGS),
      { cwd: project, driver },
    );
    assert.equal(marginIgnored.code, EXIT_REFUSED);
    assert.match(
      marginIgnored.stderr,
      /option '--no-compare' cannot be used with option '--success-margin <points>'/,
    );
    const thresholdsOnly = await cli(rolloutArgs("50,100", "--no-compare", ...ROLLOUT_FLAGS), {
      cwd: project,
      driver,
      verdicts: ["pass", "pass"],
    });
    assert.equal(thresholdsOnly.code, EXIT_OK, thresholdsOnly.stderr);
  });

  it("rollout --metrics-file: checked before the stack is opened, refused naming metric and field", async () => {
    const file = path.join(project, "metrics.yaml");
    fs.writeFileSync(
      file,
      "metrics:\n  - name: p99\n    type: value\n    query: x\n    direction: down\n",
    );
    const run = await cli(
      rolloutArgs("5", "--prometheus", "http://p:9090", "--metrics-file", file),
      { cwd: project, driver: stack() },
    );
    assert.equal(run.code, EXIT_REFUSED);
    assert.match(run.stderr, /metric "p99": direction must be lower or higher/);
    assert.match(run.stderr, /metric "p99": query must select the revision with \{revision\}/);
    assert.deepEqual(run.opened, []);
    const conflict = await cli(rolloutArgs("5", "--metrics-file", file, ...ROLLOUT_FLAGS), {
      cwd: project,
      driver: stack(),
    });
    assert.equal(conflict.code, EXIT_REFUSED);
    assert.match(
      conflict.stderr,
      /option '--metrics-file <path>' cannot be used with option '--min-success-rate <percent>'/,
    );
  });

  it("rollout --json ends with one report object; window and min-requests flags reach the analysis", async () => {
    const requests: CanaryAnalysisOptions[] = [];
    const run = await cli(
      [
        "rollout",
        "--stack",
        "prod",
        "--steps",
        "10",
        "--interval",
        "1m30s",
        "--window",
        "5m",
        "--min-requests",
        "200",
        "--metrics",
        "otel",
        "--json",
        ...ROLLOUT_FLAGS,
      ],
      { cwd: project, driver: stack(), verdicts: ["pass"], analysisRequests: requests },
    );
    assert.equal(run.code, EXIT_OK, run.stderr);
    const report = JSON.parse(run.stdout) as { status: string; deployedPercent: number };
    assert.deepEqual([report.status, report.deployedPercent], ["completed", 10]);
    assert.deepEqual(
      [requests[0].window, requests[0].minRequests, requests[0].metricSet.source],
      ["300s", 200, "built-in otel"],
    );
  });

  it("a prometheus URL the analysis rejects is refused before the first step", async () => {
    const driver = stack();
    const run = await cli(
      [
        "rollout",
        "--stack",
        "prod",
        "--steps",
        "5",
        ...ROLLOUT_FLAGS.slice(2),
        "--prometheus",
        "ftp://x",
      ],
      { cwd: project, driver },
    );
    assert.equal(run.code, EXIT_REFUSED);
    assert.match(run.stderr, /--prometheus <url>' argument 'ftp:\/\/x' is invalid/);
    assert.deepEqual(driver.log, []);
  });

  it("Ctrl-C aborts first, exits on a second press, and ignores npm's forwarded copy", () => {
    const controller = new AbortController();
    let now = 0;
    const exits: number[] = [];
    let written = "";
    const onSigint = interruptHandler(controller, {
      write: (text) => (written += text),
      exit: (code) => exits.push(code),
      now: () => now,
    });
    onSigint();
    assert.equal(controller.signal.aborted, true);
    assert.match(written, /stopping after the current action/);
    now = 5;
    onSigint();
    assert.deepEqual(exits, [], "the same keypress, forwarded by npm");
    now = 2_000;
    onSigint();
    assert.deepEqual(exits, [EXIT_INTERRUPTED]);
  });

  it("parses durations as people write them", () => {
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("120"), undefined);
  });
});

describe("canary bin (automation/canary.js) as a child process", () => {
  const runBin = (args: string[], cwd: string): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { cwd, timeout: 20_000 },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
          resolve({ code, out: stdout + stderr });
        },
      );
    });

  it("--help exits 0; percent 120 exits 2 and leaves the stack file alone", async function () {
    this.timeout(30_000);
    const project = tempProject();
    try {
      const before = fs.readFileSync(path.join(project, "Pulumi.prod.yaml"), "utf8");
      const [help, bad] = await Promise.all([
        runBin(["step", "--help"], project),
        runBin(["step", "120", "--stack", "prod"], project),
      ]);
      assert.equal(help.code, EXIT_OK, help.out);
      assert.match(help.out, /Usage: canary step \[options\] <percent>/);
      assert.equal(bad.code, EXIT_REFUSED, bad.out);
      assert.match(bad.out, /0 to 100/);
      assert.equal(fs.readFileSync(path.join(project, "Pulumi.prod.yaml"), "utf8"), before);
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});

describe("the stack file under git", () => {
  let repo: string;
  const git = (...args: string[]): string =>
    execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();

  beforeEach(() => {
    repo = tempProject();
    // A step changes a canary in progress; the committed prod file is a fresh start.
    fs.writeFileSync(path.join(repo, "Pulumi.prod.yaml"), prodStackYaml(PROD_CANARY_IN_PROGRESS));
    git("init", "--quiet");
    git("config", "user.email", "canary@example.com");
    git("config", "user.name", "canary test");
    git("config", "commit.gpgsign", "false");
    git("add", ".");
    git("commit", "--quiet", "-m", "prod at 20 %");
  });
  afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));

  const fileDriver = (): MemoryStackDriver =>
    new MemoryStackDriver({
      config: { ...BASE, [K.canaryPercent]: "20" },
      stackFile: path.join(repo, "Pulumi.prod.yaml"),
    });

  it("prints the diff and says it must be committed", async () => {
    const run = await cli(["step", "50", "--stack", "prod"], { cwd: repo, driver: fileDriver() });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.match(run.stdout, /Pulumi.prod.yaml changed:/);
    assert.match(run.stdout, /^- {2}canary-release:canaryPercent: "20"$/m);
    assert.match(run.stdout, /^\+ {2}canary-release:canaryPercent: "50"$/m);
    assert.match(run.stdout, /Commit Pulumi.prod.yaml \(or pass --commit\)/);
    assert.match(git("status", "--porcelain"), /M Pulumi.prod.yaml/);
  });

  it("--commit commits the stack file alone, with the step in the message", async () => {
    fs.writeFileSync(path.join(repo, "unrelated.txt"), "not mine\n");
    git("add", "unrelated.txt");
    const run = await cli(["step", "50", "--stack", "prod", "--commit", "--no-up"], {
      cwd: repo,
      driver: fileDriver(),
    });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.equal(git("log", "-1", "--format=%s"), "canary prod: canaryPercent 50");
    assert.equal(git("show", "--name-only", "--format=", "HEAD"), "Pulumi.prod.yaml");
    assert.match(git("show", "HEAD:Pulumi.prod.yaml"), /canary-release:canaryPercent: "50"/);
    // Comments of the committed file survive.
    assert.match(git("show", "HEAD:Pulumi.prod.yaml"), /# Production: its own cluster/);
    assert.equal(git("status", "--porcelain"), "A  unrelated.txt");
    assert.match(run.stdout, /committed [0-9a-f]{12}: canary prod: canaryPercent 50/);
  });

  it("a failed command is not committed", async () => {
    const driver = new MemoryStackDriver({
      config: { ...BASE, [K.canaryPercent]: "20" },
      stackFile: path.join(repo, "Pulumi.prod.yaml"),
      upScript: () => new Error("error: update failed"),
    });
    const head = git("rev-parse", "HEAD");
    const run = await cli(["step", "50", "--stack", "prod", "--commit"], { cwd: repo, driver });
    assert.equal(run.code, EXIT_ERROR);
    assert.equal(git("rev-parse", "HEAD"), head);
    assert.equal(driver.config[K.canaryPercent], "20");
  });

  it("git helpers: diff of an untracked file, commit of a tracked one", async () => {
    const file = path.join(repo, "Pulumi.staging.yaml");
    fs.writeFileSync(file, 'config:\n  canary-release:canaryPercent: "5"\n');
    assert.match(await stackFileDiff(repo, file), /^\+ {2}canary-release:canaryPercent: "5"$/m);
    const id = await commitStackFile(repo, file, "canary staging: canaryPercent 5");
    assert.equal(git("rev-parse", "HEAD"), id);
    assert.equal(await stackFileDiff(repo, file), "");
  });
});

describe("the Automation API driver against a stand-in Pulumi CLI (test/support/fakePulumi.js)", function () {
  // Each CLI call is a Node process; the Automation API makes a dozen per command.
  this.timeout(30_000);
  let fake: FakePulumiProject;
  let tmp: string;
  let project: string;
  let statePath: string;
  let savedPath: string | undefined;

  const PROD_YAML = [
    "# prod, for the fake CLI",
    "config:",
    "  canary-release:app: hello",
    "  canary-release:namespace: hello",
    `  canary-release:stableRevision: ${STABLE}`,
    `  canary-release:candidateRevision: ${CANDIDATE}`,
    '  canary-release:canaryPercent: "0"',
    "",
  ].join("\n");

  const writeState = (extra: Record<string, unknown> = {}): void => fake.writeState(extra);
  const calls = (): string[][] =>
    fs
      .readFileSync(`${statePath}.calls`, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as string[]);
  const stackYaml = (): string => fake.stackYaml();

  beforeEach(() => {
    fake = fakePulumiProject(PROD_YAML, {
      stableRevision: STABLE,
      candidateRevision: CANDIDATE,
      canaryPercent: 0,
    });
    ({ tmp, project, statePath } = fake);
    savedPath = process.env.PATH;
    process.env.PATH = fake.env.PATH;
    process.env.FAKE_PULUMI_STATE = statePath;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    delete process.env.FAKE_PULUMI_STATE;
    fake.remove();
  });

  it("reads, writes and removes config, updates, and reads outputs", async () => {
    const driver = await openPulumiStack({ stackName: "prod", workDir: project });
    assert.equal(await driver.getConfig(K.canaryPercent), "0");
    assert.equal(await driver.getConfig(K.maxStepPercent), undefined, "an unset key");
    await driver.setConfig(K.canaryPercent, "20");
    await driver.removeConfig(K.stableRevision);
    assert.match(stackYaml(), /^# prod, for the fake CLI/);
    assert.match(stackYaml(), /canary-release:canaryPercent: "20"/);
    assert.doesNotMatch(stackYaml(), /stableRevision/);
    const summary = await driver.up({ message: "canary prod: canaryPercent 20" });
    assert.deepEqual(summary, {
      result: "succeeded",
      version: 1,
      resourceChanges: { same: 9, update: 1 },
    });
    assert.deepEqual(await driver.outputs(), {
      stableRevision: null,
      candidateRevision: CANDIDATE,
      canaryPercent: 20,
    });
    const made = calls();
    assert.ok(
      made.some(
        (c) =>
          c.join(" ") ===
          "config set canary-release:canaryPercent --stack prod --plaintext --non-interactive -- 20",
      ),
    );
    const up = made.find((c) => c[0] === "up");
    assert.ok(up !== undefined);
    assert.deepEqual(up.slice(0, 5), [
      "up",
      "--yes",
      "--skip-preview",
      "--message",
      "canary prod: canaryPercent 20",
    ]);
  });

  it("a stack that does not exist is refused; a locked stack is retried", async () => {
    await assert.rejects(
      openPulumiStack({ stackName: "staging", workDir: project }),
      (error: unknown) => {
        assert.ok(error instanceof CanaryRefusedError);
        assert.match(error.message, /stack "staging" does not exist/);
        return true;
      },
    );
    writeState({ lockedUps: 1 });
    const retries: number[] = [];
    const driver = withConcurrentUpdateRetries(
      await openPulumiStack({ stackName: "prod", workDir: project }),
      { sleep: async () => undefined, onRetry: (r) => retries.push(r.attempt) },
    );
    assert.equal((await driver.up()).result, "succeeded");
    assert.deepEqual(retries, [1], "the SDK classified the 409 as ConcurrentUpdateError");
  });

  it("canary step: a failed up exits 1 with Pulumi's message and the stack file set back", async () => {
    writeState({ failAtPercent: "20" });
    let stderr = "";
    const code = await main(["step", "20", "--stack", "prod", "--cwd", project], {
      cwd: tmp,
      stdout: () => undefined,
      stderr: (text) => (stderr += text),
      openStack: openPulumiStack,
      openCluster: noCluster,
      analyse: async () => ({ verdict: "inconclusive", reason: "unused" }),
      preflight: preflightOk,
      ...fakeTime(),
    });
    assert.equal(code, EXIT_ERROR);
    assert.match(stderr, /canaryPercent 20 refused by the fake/);
    assert.match(stderr, /set back to the values deployed before: canaryPercent 0/);
    assert.match(stackYaml(), /canary-release:canaryPercent: "0"/);
  });

  it("the bin: Ctrl-C during a rollout's wait stops it, says where, exits 130", async () => {
    // A stand-in Prometheus for the preflight: every query answers 1000. The analysis would
    // ask it too, but never runs.
    const prometheus = new FakeServer((_req, res) => sendJson(res, 200, promVector("1000")));
    const prometheusUrl = await prometheus.start();
    after(() => prometheus.stop());
    const child = execFile(
      process.execPath,
      [
        BIN,
        "rollout",
        "--stack",
        "prod",
        "--steps",
        "5,20",
        "--interval",
        "20s",
        "--prometheus",
        prometheusUrl,
        "--metrics",
        "opencensus",
        "--no-compare",
        "--min-success-rate",
        "99",
        "--max-p99-ms",
        "500",
      ],
      { cwd: project, env: { ...process.env }, timeout: 25_000 },
    );
    let out = "";
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    const onData = (chunk: Buffer | string): void => {
      out += String(chunk);
      if (/waiting 20s/.test(out) && !child.killed) child.kill("SIGINT");
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    const code = await exited;
    assert.equal(code, EXIT_INTERRUPTED, out);
    assert.match(out, /Ctrl-C: stopping after the current action/);
    assert.match(
      out,
      /interrupted while waiting at step 1\/2, before its analysis; canaryPercent 5 is deployed/,
    );
    assert.match(stackYaml(), /canary-release:canaryPercent: "5"/);
  });
});

describe("canary revisions, start and status against the stack's cluster (stand-in API, real client-node)", () => {
  const NEWEST = "hello-9f0e1d2";
  let project: string;
  let cluster: StandInCluster;
  beforeEach(async () => {
    project = tempProject();
    cluster = await startStandInCluster("hello");
    cluster.revisions.push(
      revision("hello", "hello", STABLE, {
        commit: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
        createdAt: "2026-02-25T12:00:00Z",
        smokeTest: "passed",
        result: { status: 200, latencyMs: 41 },
      }),
      revision("hello", "hello", CANDIDATE, {
        commit: "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
        createdAt: "2026-03-01T10:00:00Z",
        smokeTest: "passed",
        result: { status: 200, latencyMs: 35 },
      }),
      revision("hello", "hello", NEWEST, {
        commit: "9f0e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6",
        createdAt: "2026-03-01T11:30:00Z",
        smokeTest: "failed",
        result: { status: 500, latencyMs: 9, reason: "expected status 200" },
      }),
      // Another app's Revision in the same namespace is not listed.
      revision("other", "hello", "other-1111111", { createdAt: "2026-03-01T11:00:00Z" }),
    );
  });
  afterEach(async () => {
    await cluster.close();
    fs.rmSync(project, { recursive: true, force: true });
  });

  /** The stack's config pointing at the stand-in, through `kubernetes:kubeconfig` itself. */
  const onCluster = (
    config: Record<string, string> = {},
    options: MemoryStackOptions = {},
  ): MemoryStackDriver =>
    stack(
      { "kubernetes:kubeconfig": cluster.kubeconfig, "kubernetes:context": "stand-in", ...config },
      options,
    );

  /** The Route table of stable and candidate at `canaryPercent` (a hand edit's, or the stack's). */
  const split = (canaryPercent: number): TrafficTarget[] =>
    trafficFor({
      app: "hello",
      stableRevision: STABLE,
      candidateRevision: CANDIDATE,
      canaryPercent,
    });

  /** The Route as Knative serves what `driver` deployed. */
  async function serveDeployed(driver: MemoryStackDriver, spec?: TrafficTarget[]): Promise<void> {
    const traffic = (spec ?? (await driver.outputs()).traffic) as TrafficTarget[];
    cluster.route = servedRoute("hello", traffic, NEWEST);
  }

  it("revisions lists the app's Revisions newest first, from the stack's own context; --json too", async () => {
    const driver = onCluster({ [K.canaryPercent]: "20" });
    await serveDeployed(driver);
    const run = await cli(["revisions", "--stack", "prod"], { cwd: project, driver, openCluster });
    assert.equal(run.code, EXIT_OK, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.match(
      lines[0],
      new RegExp(
        `revisions of hello in namespace hello, context stand-in \\(${cluster.url}\\), newest first`,
      ),
    );
    assert.match(
      lines[2],
      /hello-9f0e1d2 +30m +9f0e1d2 +yes +failed · HTTP 500 in 9 ms: expected status 200 +0 % +tag latest/,
    );
    assert.match(
      lines[3],
      /hello-5d6e7f8 +2h +5d6e7f8 +yes +passed · HTTP 200 in 35 ms +20 % +candidate/,
    );
    assert.match(
      lines[4],
      /hello-1a2b3c4 +4d +1a2b3c4 +yes +passed · HTTP 200 in 41 ms +80 % +stable/,
    );
    assert.equal(lines.length, 5, "other apps' Revisions are not listed");
    assert.ok(
      cluster.requests.includes(
        "GET /apis/serving.knative.dev/v1/namespaces/hello/revisions?labelSelector=serving.knative.dev%2Fconfiguration%3Dhello",
      ),
      cluster.requests.join("\n"),
    );
    const json = await cli(["revisions", "--stack", "prod", "--json"], {
      cwd: project,
      driver,
      openCluster,
    });
    const body = JSON.parse(json.stdout) as {
      ok: boolean;
      revisions: { name: string; livePercent: number }[];
    };
    assert.deepEqual(
      body.revisions.map((row) => [row.name, row.livePercent]),
      [
        [NEWEST, 0],
        [CANDIDATE, 20],
        [STABLE, 80],
      ],
    );
  });

  it("revisions refuses, naming the key, a context the kubeconfig lacks, a render stack, and says why the API refused", async () => {
    const typo = await cli(["revisions", "--stack", "prod"], {
      cwd: project,
      driver: onCluster({ "kubernetes:context": "prdo" }),
      openCluster,
    });
    assert.equal(typo.code, EXIT_ERROR);
    assert.match(
      typo.stderr,
      /kubernetes:context is "prdo", which kubernetes:kubeconfig \(the kubeconfig itself\) does not have \(its contexts: stand-in\)/,
    );
    const render = await cli(["revisions", "--stack", "prod", "--json"], {
      cwd: project,
      driver: onCluster({ "canary-release:render": '{"directory":"out"}' }),
      openCluster,
    });
    assert.equal(render.code, EXIT_REFUSED);
    assert.match(
      JSON.parse(render.stdout).error,
      /renders manifests to a directory \(canary-release:render\)/,
    );
    cluster.failWith = 403;
    const refused = await cli(["revisions", "--stack", "prod"], {
      cwd: project,
      driver: onCluster(),
      openCluster,
    });
    assert.equal(refused.code, EXIT_ERROR);
    assert.match(
      refused.stderr,
      /cannot read the revisions of hello\/hello from context stand-in \(http:\/\/127\.0\.0\.1:\d+\): 403 stand-in refuses with 403; the kubeconfig's user may not read it/,
    );
  });

  it("start makes a Revision found by its commit the candidate at 0 %, in one update", async () => {
    const driver = onCluster({ [K.candidateRevision]: "" });
    delete driver.config[K.candidateRevision];
    driver.deployed = { ...driver.config };
    await serveDeployed(driver);
    const run = await cli(["start", "9f0e1d2", "--stack", "prod"], {
      cwd: project,
      driver,
      openCluster,
    });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.match(
      run.stdout,
      /hello-9f0e1d2: commit 9f0e1d2, Ready, smoke test failed · HTTP 500 in 9 ms: expected status 200/,
    );
    assert.match(run.stdout, /a step above 0 needs it Ready and its smoke test passed/);
    assert.match(
      run.stdout,
      /routing by header off: knative-serving\/config-features does not exist/,
    );
    assert.match(run.stdout, /done: canary prod: start hello-9f0e1d2, canaryPercent 0/);
    assert.deepEqual(driver.writes, [set(K.candidateRevision, NEWEST), percent(0), "up"]);
    // Again, once the Route serves that update: nothing to do.
    await serveDeployed(driver);
    const again = await cli(["start", NEWEST, "--stack", "prod", "--json"], {
      cwd: project,
      driver,
      openCluster,
    });
    const body = JSON.parse(again.stdout) as { unchanged: boolean; message: string };
    assert.deepEqual([again.code, body.unchanged], [EXIT_OK, true]);
    assert.match(body.message, /hello-9f0e1d2 is the candidate at 0 % already: nothing changed/);
    assert.equal(driver.upCalls, 1);
  });

  it("start refuses while another candidate has traffic, the stable revision, and an unknown commit; nothing written", async () => {
    const driver = onCluster({ [K.canaryPercent]: "20" });
    await serveDeployed(driver);
    const busy = await cli(["start", "9f0e1d2", "--stack", "prod"], {
      cwd: project,
      driver,
      openCluster,
    });
    assert.equal(busy.code, EXIT_REFUSED);
    assert.match(
      busy.stderr,
      /candidate hello-5d6e7f8 has 20 % of stack prod's traffic: finish that canary first, with `canary rollback --stack prod` or `canary promote --stack prod`/,
    );
    const stable = await cli(["start", "1a2b3c4", "--stack", "prod"], {
      cwd: project,
      driver,
      openCluster,
    });
    assert.match(stable.stderr, /hello-1a2b3c4 is stack prod's stable revision already/);
    const unknown = await cli(["start", "abcdef0", "--stack", "prod"], {
      cwd: project,
      driver,
      openCluster,
    });
    assert.equal(unknown.code, EXIT_REFUSED);
    assert.match(
      unknown.stderr,
      /no revision of hello was built from commit abcdef0: newest revisions: hello-9f0e1d2 \(9f0e1d2\)/,
    );
    assert.deepEqual(driver.writes, []);
  });

  it("status shows the stack's traffic beside the Route's with bars, and flags a hand edit as DRIFT", async () => {
    const driver = onCluster({ [K.canaryPercent]: "20" });
    await serveDeployed(driver);
    const run = await cli(["status", "--stack", "prod"], { cwd: project, driver, openCluster });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.match(run.stdout, /smoke test +passed · HTTP 200 in 35 ms/);
    assert.match(run.stdout, new RegExp(`cluster +context stand-in \\(${cluster.url}\\)`));
    assert.match(run.stdout, /route Ready +True/);
    assert.match(run.stdout, /hello-1a2b3c4 +█{16}░{4} +80 % +█{16}░{4} +80 % +stable/);
    assert.match(run.stdout, /hello-5d6e7f8 +█{4}░{16} +20 % +█{4}░{16} +20 % +candidate/);
    assert.match(run.stdout, /drift +none: the cluster serves what the stack deployed/);
    // Knative's default: no routing by header; status says how to turn it on.
    assert.match(
      run.stdout,
      /header route +off: knative-serving\/config-features does not exist; turn it on with platform\.tagHeaderRouting true where the stack installs Knative, else: kubectl patch configmap config-features -n knative-serving --type merge -p '\{"data":\{"tag-header-based-routing":"Enabled"\}\}'/,
    );
    cluster.configMaps["knative-serving/config-features"] = {
      "tag-header-based-routing": "Enabled",
    };
    const on = await cli(["status", "--stack", "prod"], { cwd: project, driver, openCluster });
    assert.match(
      on.stdout,
      /header route +on: requests to the Route's host with `Knative-Serving-Tag: candidate` reach the candidate, whatever its share/,
    );
    cluster.configMaps["knative-serving/config-features"] = {
      "tag-header-based-routing": "Disabled",
    };
    const off = await cli(["status", "--stack", "prod", "--json"], {
      cwd: project,
      driver,
      openCluster,
    });
    const offBody = JSON.parse(off.stdout) as {
      live: { tagHeaderRouting: { state: string; detail: string } };
    };
    assert.equal(offBody.live.tagHeaderRouting.state, "off");
    assert.match(offBody.live.tagHeaderRouting.detail, /has no tag-header-based-routing: Enabled/);

    await serveDeployed(driver, split(60));
    const drifted = await cli(["status", "--stack", "prod", "--json"], {
      cwd: project,
      driver,
      openCluster,
    });
    const body = JSON.parse(drifted.stdout) as {
      live: {
        traffic: { drift: string[]; rows: { target: string; desired: number; live: number }[] };
      };
    };
    assert.deepEqual(
      body.live.traffic.rows.map((row) => [row.target, row.desired, row.live]),
      [
        [STABLE, 80, 40],
        [CANDIDATE, 20, 60],
        ["latest", 0, 0],
      ],
    );
    assert.equal(body.live.traffic.drift.length, 2);
    assert.match(
      body.live.traffic.drift[1],
      /hello-5d6e7f8: the stack deployed 20 %, the Route's spec says 60 %: the Route was changed outside the stack/,
    );
    const human = await cli(["status", "--stack", "prod"], { cwd: project, driver, openCluster });
    assert.match(human.stdout, /DRIFT +hello-5d6e7f8: the stack deployed 20 %/);
  });

  it("step, promote, start and rollout wait while the Route was changed by hand; rollback does not (issue 18, item 3)", async () => {
    const driver = onCluster({ [K.canaryPercent]: "20" });
    // Someone gave the candidate 60 % with kubectl.
    await serveDeployed(driver, split(60));
    for (const argv of [
      ["step", "50"],
      ["promote"],
      ["start", "9f0e1d2"],
      rolloutArgs("50", ...ROLLOUT_FLAGS),
    ]) {
      const run = await cli([...argv, "--stack", "prod"], { cwd: project, driver, openCluster });
      assert.equal(run.code, EXIT_REFUSED, `${argv.join(" ")}: ${run.stderr}`);
      assert.match(
        run.stderr,
        /refused, nothing written: the Route in the cluster is not what stack prod deployed:\n {2}- hello-1a2b3c4: the stack deployed 80 %, the Route's spec says 40 %[\s\S]*`pulumi up --refresh --stack prod` sets the stack's traffic again[\s\S]*`canary rollback` is never held back/,
      );
    }
    assert.deepEqual(driver.writes, [], "nothing written while drifted");
    const json = await cli(["step", "50", "--stack", "prod", "--json"], {
      cwd: project,
      driver,
      openCluster,
    });
    assert.equal(JSON.parse(json.stdout).exitCode, EXIT_REFUSED);
    // Backing out is never held back: it restores the stack's traffic at 0 %.
    const rollback = await cli(["rollback", "--stack", "prod"], {
      cwd: project,
      driver,
      openCluster,
    });
    assert.equal(rollback.code, EXIT_OK, rollback.stderr);
    assert.deepEqual(driver.writes, [percent(0), "up"]);
    // Once the Route serves the stack's traffic again, steps go on.
    await serveDeployed(driver);
    const step = await cli(["step", "20", "--stack", "prod"], {
      cwd: project,
      driver,
      openCluster,
    });
    assert.equal(step.code, EXIT_OK, step.stderr);
  });

  it("a step whose cluster cannot be read goes on with a warning; a render stack is not checked", async () => {
    cluster.failWith = 503;
    const run = await cli(["step", "20", "--stack", "prod"], {
      cwd: project,
      driver: onCluster(),
      openCluster,
    });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.match(
      run.stdout,
      /warning: drift between the stack and the Route not checked: cannot read .*503/,
    );
    const render = await cli(["step", "20", "--stack", "prod"], {
      cwd: project,
      driver: onCluster({ "canary-release:render": '{"directory":"out"}' }),
      openCluster,
    });
    assert.equal(render.code, EXIT_OK, render.stderr);
    assert.doesNotMatch(render.stdout, /drift/);
  });

  it("a cluster that accepts and never answers: status and a step's drift check give up at the deadline", async () => {
    // It keeps every connection open and says nothing; closed (connections and all) at the end.
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const kubeconfig = cluster.kubeconfig.replace(cluster.url, `http://127.0.0.1:${port}`);
    const quick: OpenCluster = (target) => openCluster({ ...target, timeoutMs: 300 });
    try {
      const driver = onCluster({ "kubernetes:kubeconfig": kubeconfig, [K.canaryPercent]: "20" });
      const onSilentCluster = { cwd: project, driver, openCluster: quick };
      const status = await cli(["status", "--stack", "prod"], onSilentCluster);
      assert.equal(status.code, EXIT_OK, status.stderr);
      assert.match(
        status.stdout,
        /cluster +not read: .*no answer from context stand-in \(http:\/\/127\.0\.0\.1:\d+\) within 0\.3 s/,
      );
      const step = await cli(["step", "30", "--stack", "prod"], onSilentCluster);
      assert.equal(step.code, EXIT_OK, step.stderr);
      assert.match(
        step.stdout,
        /warning: drift between the stack and the Route not checked: .*no answer/,
      );
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });

  it("--no-up only writes the stack file for review: no cluster is read, drift or not", async () => {
    const driver = onCluster({ [K.canaryPercent]: "20" });
    await serveDeployed(driver, split(60));
    const before = cluster.requests.length;
    const run = await cli(["step", "60", "--stack", "prod", "--no-up"], {
      cwd: project,
      driver,
      openCluster,
    });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.deepEqual(driver.writes, [percent(60)]);
    assert.equal(cluster.requests.length, before, "no request to the cluster");
  });

  it("status of a stack never deployed says the traffic was not compared, not that there is no drift", async () => {
    const driver = onCluster({}, { deployed: false });
    await serveDeployed(driver, split(30));
    const run = await cli(["status", "--stack", "prod"], { cwd: project, driver, openCluster });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.match(run.stdout, /drift +not compared: the stack was never deployed/);
    assert.doesNotMatch(run.stdout, /drift +none/);
  });

  it("status still shows the stack's side when the cluster cannot be read", async () => {
    cluster.failWith = 500;
    const run = await cli(["status", "--stack", "prod"], {
      cwd: project,
      driver: onCluster(),
      openCluster,
    });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.match(run.stdout, /stable +hello-1a2b3c4/);
    assert.match(
      run.stdout,
      /cluster +not read: cannot read the revisions of hello\/hello from context stand-in .*500/,
    );
    assert.doesNotMatch(run.stdout, /drift/i);
  });

  it("status --watch refreshes until interrupted; with --json one object per line", async () => {
    const driver = onCluster({ [K.canaryPercent]: "20" });
    await serveDeployed(driver);
    const controller = new AbortController();
    let refreshes = 0;
    const counting: OpenCluster = async (target) => {
      refreshes += 1;
      // The third refresh is the last: Ctrl-C arrives while it is shown.
      if (refreshes === 3) controller.abort();
      return openCluster(target);
    };
    const run = await cli(["status", "--stack", "prod", "--watch", "--interval", "5s"], {
      cwd: project,
      driver,
      openCluster: counting,
      signal: controller.signal,
      isTerminal: true,
    });
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.equal(run.stdout.match(/\(every 5s, Ctrl-C to stop\)/g)?.length, 3);
    assert.equal(
      run.stdout.match(/\x1b\[2J\x1b\[H/g)?.length,
      2,
      "the screen is redrawn between refreshes",
    );
    const jsonController = new AbortController();
    let jsonRefreshes = 0;
    const json = await cli(["status", "--stack", "prod", "--watch", "--json"], {
      cwd: project,
      driver,
      openCluster: async (target) => {
        if (++jsonRefreshes === 2) jsonController.abort();
        return openCluster(target);
      },
      signal: jsonController.signal,
    });
    const lines = json.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    // A refresh that fails is a line of the stream too.
    const failing = new AbortController();
    let calls = 0;
    const broken = onCluster({ [K.canaryPercent]: "20" });
    broken.outputs = async () => {
      if (++calls === 2) failing.abort();
      throw new Error("backend busy");
    };
    const stream = await cli(["status", "--stack", "prod", "--watch", "--json"], {
      cwd: project,
      driver: broken,
      openCluster,
      signal: failing.signal,
    });
    assert.equal(stream.code, EXIT_OK);
    for (const line of stream.stdout.trimEnd().split("\n")) {
      assert.deepEqual(
        (({ ok, error }) => ({ ok, error }))(JSON.parse(line) as { ok: boolean; error: string }),
        { ok: false, error: "backend busy" },
      );
    }
    for (const line of lines) {
      const value = JSON.parse(line) as { ok: boolean; live: { traffic: { drift: string[] } } };
      assert.deepEqual([value.ok, value.live.traffic.drift], [true, []]);
    }
  });
});
