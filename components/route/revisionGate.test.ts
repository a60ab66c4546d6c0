// The candidate gate's reading of the revision tester's record (issue 15, fault 1): an `error`
// result means the test could not run, which is no verdict: the gate treats it as untested.
import { strict as assert } from "assert";
import * as path from "path";
import {
  SMOKE_TEST_LABEL,
  SMOKE_TEST_RESULT_ANNOTATION,
  SMOKE_TEST_VERDICTS,
  smokeTestOf,
} from "../../common/revisionRecord";
import { CandidateGate, judgeCandidate } from "./revisionGate";

const READY = { conditions: [{ type: "Ready", status: "True" }] };
const REQUIRE: CandidateGate = { requireReady: true, requireSmokeTest: true, warnUntested: false };
const ALLOW: CandidateGate = { requireReady: true, requireSmokeTest: false, warnUntested: true };
const ERROR_RESULT = JSON.stringify({
  status: null,
  latencyMs: null,
  at: "2026-11-26T06:00:00.000Z",
  reason: "the smoke test could not run (retried at the next resync): creating Route: HTTP 500",
});
const errored = {
  status: READY,
  metadata: {
    labels: { [SMOKE_TEST_LABEL]: "error" },
    annotations: { [SMOKE_TEST_RESULT_ANNOTATION]: ERROR_RESULT },
  },
};

describe("candidate gate: the tester's `error` result (issue 15, fault 1)", () => {
  it("names the same verdicts as the tester writes", () => {
    const tester = require(
      path.join(__dirname, "..", "..", "functions", "revision-tester", "claim.js"),
    ) as { VERDICTS: readonly string[] };
    assert.deepEqual([...tester.VERDICTS], [...SMOKE_TEST_VERDICTS]);
  });

  it("reads `error` as its own state, with the recorded reason", () => {
    const record = smokeTestOf(errored.metadata);
    assert.equal(record.state, "error");
    assert.match(String(record.result?.reason), /could not run/);
  });

  it("refuses an `error` candidate as untested, saying the test could not run and will be retried", () => {
    const verdict = judgeCandidate("hello-2222222", "hello", errored, REQUIRE);
    assert.equal(verdict.smokeTest.state, "error");
    assert.match(
      verdict.refusal ?? "",
      /^Refusing to send traffic to candidate revision hello\/hello-2222222: its smoke test could not run \(.*HTTP 500\), so it is untested; the revision tester retries it at its next resync\. Wait for its result, or set canary-release:allowUntestedCandidate true/,
    );
    assert.doesNotMatch(verdict.refusal ?? "", /smoke test failed/);
  });

  it("lets an `error` candidate through with allowUntestedCandidate, warning why", () => {
    const verdict = judgeCandidate("hello-2222222", "hello", errored, ALLOW);
    assert.equal(verdict.refusal, undefined);
    assert.match(verdict.warning ?? "", /although its smoke test could not run .* retries it/);
  });

  it("still refuses `failed` as failed, and passes `passed`", () => {
    const failed = {
      status: READY,
      metadata: { labels: { [SMOKE_TEST_LABEL]: "failed" } },
    };
    assert.match(
      judgeCandidate("r", "ns", failed, REQUIRE).refusal ?? "",
      /its smoke test failed\. Build a revision that passes/,
    );
    const passed = { status: READY, metadata: { labels: { [SMOKE_TEST_LABEL]: "passed" } } };
    assert.deepEqual(judgeCandidate("r", "ns", passed, REQUIRE).refusal, undefined);
  });
});
