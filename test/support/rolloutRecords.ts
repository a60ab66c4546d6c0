// Records of rollouts for the report's tests: a rollout run by runRollout itself (a memory stack,
// a clock that advances with each wait) whose analyses are scripted with the numbers of both
// revisions, so that the plots have points at different heights.
import type { AnalysisResult, MetricVerdict } from "../../automation/analysisTypes";
import { builtInMetricSet } from "../../automation/metricSet";
import { runRollout } from "../../automation/rollout";
import { rolloutRecord, type RolloutRecord } from "../../automation/rolloutReport";
import { MemoryStackDriver } from "./memoryStackDriver";

const START = new Date("2026-03-01T12:00:00Z");

interface Scripted {
  readonly verdict: AnalysisResult["verdict"];
  readonly success: [number, number];
  readonly p99: [number, number];
  readonly reason: string;
}

function result(s: Scripted): AnalysisResult {
  const metrics: MetricVerdict[] = [
    {
      name: "success-rate",
      type: "proportion",
      verdict: s.verdict,
      candidate: s.success[0],
      stable: s.success[1],
      candidateTotal: 1200,
      stableTotal: 4800,
      reason: `success-rate ${s.success[0]} % vs stable ${s.success[1]} %`,
    },
    {
      name: "p99-latency",
      type: "value",
      verdict: "pass",
      candidate: s.p99[0],
      stable: s.p99[1],
      samples: { candidate: 10, stable: 10 },
      reason: `p99-latency ${s.p99[0]} ms vs stable ${s.p99[1]} ms`,
    },
  ];
  return { verdict: s.verdict, stable: "hello-1a2b3c4", metrics, reason: s.reason };
}

/** `completed`: three passing steps, promoted; `rolled-back`: a pass, then a hold and a fail. */
export async function sampleRecord(kind: "completed" | "rolled-back"): Promise<RolloutRecord> {
  const script: Scripted[] =
    kind === "completed"
      ? [
          { verdict: "pass", success: [99.6, 99.5], p99: [80, 76], reason: "Passed: step 1" },
          { verdict: "pass", success: [99.4, 99.5], p99: [95, 78], reason: "Passed: step 2" },
          { verdict: "pass", success: [99.7, 99.6], p99: [90, 77], reason: "Passed: step 3" },
        ]
      : [
          { verdict: "pass", success: [99.5, 99.5], p99: [70, 72], reason: "Passed: step 1" },
          {
            verdict: "inconclusive",
            success: [98.9, 99.5],
            p99: [74, 71],
            reason: "Inconclusive: too little evidence either way",
          },
          {
            verdict: "fail",
            success: [97.1, 99.4],
            p99: [75, 70],
            // Text a page must escape, not interpret.
            reason: `Failed: success-rate 97.1 % vs stable 99.4 % <script>alert("x")</script> & 'more'`,
          },
        ];
  let now = START.getTime();
  let call = 0;
  const driver = new MemoryStackDriver({
    config: {
      "canary-release:app": "hello",
      "canary-release:namespace": "hello",
      "canary-release:stableRevision": "hello-1a2b3c4",
      "canary-release:candidateRevision": "hello-5d6e7f8",
      "canary-release:canaryPercent": "0",
    },
  });
  const report = await runRollout(driver, {
    steps: [5, 20, 50],
    intervalMs: 5 * 60_000,
    promote: kind === "completed",
    sleep: async (ms) => {
      now += ms;
    },
    now: () => new Date(now),
    analyse: async () => result(script[call++]),
  });
  return rolloutRecord(
    report,
    {
      prometheusUrl: "http://prometheus:9090",
      namespace: "hello",
      window: "300s",
      sampleInterval: "30s",
      significance: 0.01,
      minRequests: 50,
      metricSet: builtInMetricSet("opencensus", { successMargin: 0.5, latencyMargin: 20 }),
    },
    { startedAt: START, finishedAt: new Date(now) },
  );
}
