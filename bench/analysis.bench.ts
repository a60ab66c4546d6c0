// Bench: how long one canary decision (analyseCandidate) takes against a real Prometheus on
// loopback, holding the test fixture (test/support/knativeMetrics: both naming schemes,
// backfilled with promtool). Per case, the median (and min/max) over RUNS decisions after a
// warm-up; cases interleaved round by round so that drift hits them alike.
// Run: ts-node --transpile-only bench/analysis.bench.ts   (ANALYSIS_BENCH_RUNS, default 25)
import { performance } from "perf_hooks";
import { analyseCandidate, OTEL_RESOURCE_LABELS_PRESET } from "../automation/analysis";
import { AnalysisOptions } from "../automation/analysisTypes";
import {
  AT,
  NAMESPACES,
  REVISIONS,
  startKnativePrometheus,
  THRESHOLDS,
  WINDOW,
} from "../test/support/knativeMetrics";
import { prometheusBinaries } from "../test/support/prometheus";

const RUNS = Number(process.env.ANALYSIS_BENCH_RUNS ?? 25);
const WARMUP = 3;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

interface Case {
  readonly label: string;
  /** Prometheus queries per decision: 3, plus 2 to detect the scheme. */
  readonly queries: number;
  readonly options: Omit<AnalysisOptions, "prometheusUrl">;
  readonly expectPreset: string;
  readonly ms: number[];
}

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 10) {
    throw new Error(`ANALYSIS_BENCH_RUNS must be a whole number of at least 10, got ${RUNS}`);
  }
  const binaries = prometheusBinaries();
  if (typeof binaries === "string") throw new Error(binaries);
  const started = performance.now();
  const prometheus = await startKnativePrometheus(binaries, "canary-analysis-bench-");
  const startupMs = performance.now() - started;

  const base = { window: WINDOW, at: AT, ...THRESHOLDS, revision: REVISIONS.healthy };
  const cases: Case[] = [
    {
      label: "opencensus preset",
      queries: 3,
      options: { ...base, namespace: NAMESPACES.opencensus, metrics: "opencensus" },
      expectPreset: "opencensus",
      ms: [],
    },
    {
      label: "otel preset (target_info join)",
      queries: 3,
      options: { ...base, namespace: NAMESPACES.otel, metrics: "otel" },
      expectPreset: "otel",
      ms: [],
    },
    {
      label: "auto-detect -> opencensus",
      queries: 5,
      options: { ...base, namespace: NAMESPACES.opencensus },
      expectPreset: "opencensus",
      ms: [],
    },
    {
      label: "auto-detect -> otel",
      queries: 5,
      options: { ...base, namespace: NAMESPACES.otel },
      expectPreset: "otel",
      ms: [],
    },
    {
      label: "otel-resource-labels override",
      queries: 3,
      options: {
        ...base,
        namespace: NAMESPACES.otelResourceLabels,
        preset: OTEL_RESOURCE_LABELS_PRESET,
      },
      expectPreset: "otel-resource-labels",
      ms: [],
    },
  ];

  try {
    const decide = async (c: Case): Promise<number> => {
      const start = performance.now();
      const result = await analyseCandidate({ ...c.options, prometheusUrl: prometheus.url });
      const elapsed = performance.now() - start;
      // A bench of wrong answers measures nothing: every decision must be the fixture's pass.
      if (result.verdict !== "pass" || result.preset !== c.expectPreset) {
        throw new Error(`${c.label}: ${result.verdict} (${result.preset}): ${result.reason}`);
      }
      return elapsed;
    };
    for (const c of cases) for (let i = 0; i < WARMUP; i++) await decide(c);
    for (let run = 0; run < RUNS; run++) {
      for (const c of cases) c.ms.push(await decide(c));
    }
  } finally {
    await prometheus.close();
  }

  const fmt = (ms: number): string => ms.toFixed(2).padStart(8);
  console.log(
    `analyseCandidate against Prometheus on 127.0.0.1 (backfilled fixture; startup incl. ` +
      `backfill ${startupMs.toFixed(0)} ms), ${RUNS} runs per case after ${WARMUP} warm-up runs`,
  );
  console.log(`${"case".padEnd(32)} queries  median ms   min ms   max ms`);
  for (const c of cases) {
    console.log(
      `${c.label.padEnd(32)} ${String(c.queries).padStart(7)} ${fmt(median(c.ms))}  ` +
        `${fmt(Math.min(...c.ms))} ${fmt(Math.max(...c.ms))}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
