// Bench: the comparison analysis (automation/canaryAnalysis.ts) against a real Prometheus on
// loopback, in two parts.
// 1. Time to detect a bad canary. Synthetic OpenCensus queue-proxy metrics (seeded PRNG,
//    mulberry32): a stable revision at 0.1 % 5xx and a candidate at 2 % 5xx (bad), at 0.1 % with
//    latencies 1.5 times the stable's (slow) or as the stable (healthy), lognormal latencies
//    (median 40 ms), R requests/s in all split by the step's
//    percent, one scrape per 15 s, backfilled with promtool into ONE Prometheus, each scenario
//    (rate, seed, bad/slow/healthy) in its own namespace. Each step of the plan 5,20,50 is its own
//    time segment of (1 + max inconclusive) intervals, one after another; the bench plays the
//    rollout's rules itself (automation/rollout.ts: analyse after each interval; pass -> next
//    step's segment, fail -> rolled back, inconclusive -> hold, one more than max inconclusive ->
//    rolled back by the fail-safe; each hold judges the whole step so far, as the command's
//    analysisWindow does) with the command's defaults, and reports how many intervals
//    (x 5 min) it took to roll back or promote, per rate over the seeds.
// 2. One decision's latency against the test fixture (test/support/knativeMetrics): median
//    (and min/max) over RUNS decisions after a warm-up, cases interleaved round by round so that
//    drift hits them alike, with the Prometheus requests each made (counted at fetch).
// Figures only, no timed assertions; a wrong verdict of the fixture, or data that Prometheus
// does not count as generated, is an error (exit 1).
// Run: ts-node --transpile-only bench/analysis.bench.ts   (ANALYSIS_BENCH_RUNS, default 25, at
// least 10; needs Debian's `prometheus` package for prometheus and promtool)
import * as fs from "fs";
import { performance } from "perf_hooks";
import type { AnalysisResult } from "../automation/analysisTypes";
import {
  analyseCanary,
  DEFAULT_SAMPLE_INTERVAL,
  DEFAULT_SIGNIFICANCE,
  preflightCanary,
  type CanaryAnalysisOptions,
} from "../automation/canaryAnalysis";
import {
  analysisWindow,
  DEFAULT_INTERVAL,
  DEFAULT_LATENCY_MARGIN,
  DEFAULT_MIN_REQUESTS,
  DEFAULT_SUCCESS_MARGIN,
  sampleIntervalFor,
} from "../automation/cli";
import { builtInMetricSet, type BuiltInCriteria } from "../automation/metricSet";
import { DEFAULT_MAX_INCONCLUSIVE } from "../automation/rollout";
import { parseDuration, promqlDuration } from "../automation/time";
import {
  AT,
  NAMESPACES,
  REVISIONS,
  startKnativePrometheus,
  THRESHOLDS,
  WINDOW,
} from "../test/support/knativeMetrics";
import {
  backfill,
  makeTempRoot,
  prometheusBinaries,
  PrometheusServer,
} from "../test/support/prometheus";

const RUNS = Number(process.env.ANALYSIS_BENCH_RUNS ?? 25);
const WARMUP = 3;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** `median [min-max]` of whole numbers, or `-` for none. */
function spread(values: readonly number[]): string {
  if (values.length === 0) return "-";
  const m = median(values);
  return `${Number.isInteger(m) ? m : m.toFixed(1)} [${Math.min(...values)}-${Math.max(...values)}]`;
}

// ---------------------------------------------------------------------------------------------
// Counting Prometheus requests: the client calls the global fetch, once per query.

const requests = { instant: 0, range: 0 };
const realFetch = globalThis.fetch;
globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url.endsWith("/api/v1/query_range")) requests.range++;
  else if (url.endsWith("/api/v1/query")) requests.instant++;
  return realFetch(input, init);
}) as typeof fetch;

// ---------------------------------------------------------------------------------------------
// Part 1: time to detect a bad canary

const RATES = [5, 20, 50, 100] as const;
const SEEDS = [1, 2, 3, 4, 5] as const;
const STEPS = [5, 20, 50] as const;
const KINDS = ["bad", "slow", "healthy"] as const;
type Kind = (typeof KINDS)[number];
const ERROR_RATE: Readonly<Record<Kind | "stable", number>> = {
  stable: 0.001,
  healthy: 0.001,
  bad: 0.02,
  slow: 0.001,
};
/** The slow candidate's latencies are 1.5 times the stable's: a p99 of 192 ms against 128. */
const LATENCY_FACTOR: Readonly<Record<Kind | "stable", number>> = {
  stable: 1,
  healthy: 1,
  bad: 1,
  slow: 1.5,
};
const LATENCY_MEDIAN_MS = 40;
const LATENCY_SIGMA = 0.5; // of ln(ms): p99 = 40 x e^(2.326 x 0.5) = 128 ms
const INTERVAL_MS = parseDuration(DEFAULT_INTERVAL) as number;
const ANALYSIS_WINDOW = promqlDuration(INTERVAL_MS); // --window defaults to --interval
const SCRAPE_MS = 15_000;
const SCRAPES_PER_INTERVAL = INTERVAL_MS / SCRAPE_MS;
const INTERVALS_PER_SEGMENT = 1 + DEFAULT_MAX_INCONCLUSIVE;
const SCRAPES = STEPS.length * INTERVALS_PER_SEGMENT * SCRAPES_PER_INTERVAL;
/** On a 2 h boundary: the whole history falls in one TSDB block. */
const START_MS = Date.parse("2024-03-04T00:00:00Z");
// OpenCensus bounds (knativeMetrics.ts, from knative/serving) up to 1 s; the rest is +Inf.
const BOUNDS_MS = [
  5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000,
];
const CODES = [200, 503] as const;
const COMPARE: BuiltInCriteria = {
  successMargin: DEFAULT_SUCCESS_MARGIN,
  latencyMargin: DEFAULT_LATENCY_MARGIN,
};
const STABLE = "shop-stable";
const CANDIDATE = "shop-candidate";

/** mulberry32: a small, fast 32-bit PRNG; uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal, Box-Muller. */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Poisson: Knuth's product below a mean of 30, the normal approximation above. */
function poisson(random: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean < 30) {
    const limit = Math.exp(-mean);
    let k = 0;
    for (let p = random(); p > limit; p *= random()) k++;
    return k;
  }
  return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(random)));
}

interface Scenario {
  readonly rate: number;
  readonly seed: number;
  readonly kind: Kind;
  readonly namespace: string;
}

/** Cumulative counters of one revision at each scrape: requests and `le` buckets per code. */
interface RevisionSeries {
  readonly revision: string;
  readonly pod: string;
  readonly ip: string;
  /** [scrape][code index] requests, and [scrape][code index][bound index] (+Inf last). */
  readonly counts: number[][];
  readonly buckets: number[][][];
  /** Requests per scrape (not cumulative), for checking Prometheus' totals. */
  readonly perScrape: number[];
}

/** The step's percent of traffic at a scrape (the increment ending at it). */
function percentAtScrape(scrape: number): number {
  const segment = Math.floor((scrape - 1) / (INTERVALS_PER_SEGMENT * SCRAPES_PER_INTERVAL));
  return STEPS[Math.min(segment, STEPS.length - 1)];
}

function generateRevision(
  scenario: Scenario,
  role: "stable" | "candidate",
  index: number,
): RevisionSeries {
  // The same draws for the healthy and the bad run of a seed (common random numbers): the
  // stable revision is identical, the candidate differs only by its error rate.
  const random = mulberry32(
    scenario.seed * 1_000_003 + scenario.rate * 101 + (role === "stable" ? 1 : 2),
  );
  const errorRate = ERROR_RATE[role === "stable" ? "stable" : scenario.kind];
  const latencyFactor = LATENCY_FACTOR[role === "stable" ? "stable" : scenario.kind];
  const counts = [CODES.map(() => 0)];
  const buckets = [CODES.map(() => [...BOUNDS_MS, Infinity].map(() => 0))];
  const perScrape = [0];
  for (let scrape = 1; scrape <= SCRAPES; scrape++) {
    const percent = percentAtScrape(scrape);
    const share = role === "stable" ? (100 - percent) / 100 : percent / 100;
    const n = poisson(random, (scenario.rate * SCRAPE_MS * share) / 1000);
    const count = [...counts[scrape - 1]];
    const bucket = buckets[scrape - 1].map((b) => [...b]);
    for (let r = 0; r < n; r++) {
      const code = random() < errorRate ? 1 : 0;
      const ms = latencyFactor * LATENCY_MEDIAN_MS * Math.exp(LATENCY_SIGMA * normal(random));
      count[code]++;
      // Cumulative `le` buckets: every bound at or above the latency, and +Inf.
      for (let b = 0; b <= BOUNDS_MS.length; b++) {
        if (b === BOUNDS_MS.length || ms <= BOUNDS_MS[b]) bucket[code][b]++;
      }
    }
    counts.push(count);
    buckets.push(bucket);
    perScrape.push(n);
  }
  const revision = role === "stable" ? STABLE : CANDIDATE;
  return {
    revision,
    pod: `${revision}-deployment-7c9d-${index}x`,
    ip: `10.244.${Math.floor(index / 250)}.${(index % 250) + 2}`,
    counts,
    buckets,
    perScrape,
  };
}

/** OpenMetrics text for promtool, in time order (see openMetrics in test/support/prometheus). */
function syntheticOpenMetrics(
  all: ReadonlyArray<{ scenario: Scenario; revisions: readonly RevisionSeries[] }>,
): { text: string; samples: number } {
  // Label sets are built once; each scrape writes only values and the timestamp.
  const series = all.flatMap(({ scenario, revisions }) =>
    revisions.flatMap((rev) =>
      CODES.flatMap((code, c) => {
        const labels =
          `job="knative-queue-proxy",instance="${rev.ip}:9091",namespace_name="${scenario.namespace}",` +
          `revision_name="${rev.revision}",pod_name="${rev.pod}",response_code="${code}",` +
          `response_code_class="${Math.floor(code / 100)}xx"`;
        return [
          {
            prefix: `revision_app_request_count{${labels}} `,
            value: (s: number) => rev.counts[s][c],
          },
          ...[...BOUNDS_MS.map(String), "+Inf"].map((le, b) => ({
            prefix: `revision_app_request_latencies_bucket{${labels},le="${le}"} `,
            value: (s: number) => rev.buckets[s][c][b],
          })),
        ];
      }),
    ),
  );
  const chunks: string[] = [];
  for (let s = 0; s <= SCRAPES; s++) {
    const suffix = ` ${(START_MS + s * SCRAPE_MS) / 1000}\n`;
    chunks.push(series.map((x) => x.prefix + x.value(s) + suffix).join(""));
  }
  chunks.push("# EOF\n");
  return { text: chunks.join(""), samples: series.length * (SCRAPES + 1) };
}

type Letter = "P" | "F" | "I";

interface Outcome {
  readonly scenario: Scenario;
  readonly status: "completed" | "fail" | "fail-safe";
  /** Percent of the last step analysed (where it rolled back, or the last one passed). */
  readonly percent: number;
  /** Analyses made: each after one interval. */
  readonly intervals: number;
  /** Verdicts step by step, e.g. `5%: I(p99) P | 20%: F(sr)`. */
  readonly trail: string;
  /** Inconclusive analyses by the metric that held them. */
  readonly held: { readonly successRate: number; readonly p99: number };
}

const SHORT: Readonly<Record<string, string>> = { "success-rate": "sr", "p99-latency": "p99" };

function letterOf(result: AnalysisResult): string {
  const letter: Letter = result.verdict === "pass" ? "P" : result.verdict === "fail" ? "F" : "I";
  if (letter === "P") return letter;
  const which = (result.metrics ?? [])
    .filter((m) => m.verdict === result.verdict)
    .map((m) => SHORT[m.name] ?? m.name);
  return `${letter}(${which.join(",") || "?"})`;
}

/** Plays the rollout's rules over the scenario's segments (see the header). */
async function simulateRollout(
  prometheusUrl: string,
  scenario: Scenario,
  candidate: RevisionSeries,
  decisionsMs: number[],
): Promise<Outcome> {
  const metricSet = builtInMetricSet("opencensus", COMPARE);
  const trail: string[] = [];
  const held = { successRate: 0, p99: 0 };
  let intervals = 0;
  for (const [stepIndex, percent] of STEPS.entries()) {
    const letters: string[] = [];
    trail.push(`${percent}%:`);
    for (let k = 1; k <= INTERVALS_PER_SEGMENT; k++) {
      const endScrape = (stepIndex * INTERVALS_PER_SEGMENT + k) * SCRAPES_PER_INTERVAL;
      const at = new Date(START_MS + endScrape * SCRAPE_MS);
      // As the command does: a hold judges the step's traffic so far (analysisWindow), the
      // step having started at its segment's start.
      const stepStartedAt = new Date(at.getTime() - k * INTERVAL_MS);
      const windowMs = analysisWindow(INTERVAL_MS, { attempt: k, at, stepStartedAt });
      const options: CanaryAnalysisOptions = {
        prometheusUrl,
        namespace: scenario.namespace,
        candidate: CANDIDATE,
        stable: STABLE,
        window: promqlDuration(windowMs),
        sampleInterval: promqlDuration(sampleIntervalFor(windowMs)),
        at,
        metricSet,
        minRequests: DEFAULT_MIN_REQUESTS,
        significance: DEFAULT_SIGNIFICANCE,
      };
      const started = performance.now();
      const result = await analyseCanary(options);
      decisionsMs.push(performance.now() - started);
      intervals++;
      checkTotals(scenario, candidate, endScrape, windowMs / SCRAPE_MS, result);
      letters.push(letterOf(result));
      trail[trail.length - 1] = `${percent}%: ${letters.join(" ")}`;
      for (const m of result.metrics ?? []) {
        if (result.verdict === "inconclusive" && m.verdict === "inconclusive") {
          if (m.name === "success-rate") held.successRate++;
          else held.p99++;
        }
      }
      const done = (status: Outcome["status"]): Outcome => ({
        scenario,
        status,
        percent,
        intervals,
        trail: trail.join(" | "),
        held,
      });
      if (result.verdict === "fail") return done("fail");
      if (result.verdict === "inconclusive" && k === INTERVALS_PER_SEGMENT) {
        return done("fail-safe");
      }
      if (result.verdict === "pass") break;
    }
  }
  return {
    scenario,
    status: "completed",
    percent: STEPS[STEPS.length - 1],
    intervals,
    trail: trail.join(" | "),
    held,
  };
}

/**
 * The candidate's requests in the window as Prometheus counts them must be the generated ones
 * (exact on Prometheus 2.x, whose ranges include the sample at the window's start; 3.x leaves
 * it out and extrapolates, within a few percent): else the bench measures data it did not mean.
 */
function checkTotals(
  scenario: Scenario,
  candidate: RevisionSeries,
  endScrape: number,
  windowScrapes: number,
  result: AnalysisResult,
): void {
  const generated = candidate.perScrape
    .slice(endScrape - windowScrapes + 1, endScrape + 1)
    .reduce((a, b) => a + b, 0);
  const counted = result.metrics?.find((m) => m.name === "success-rate")?.candidateTotal ?? 0;
  if (Math.abs(counted - generated) > 0.06 * generated + 1) {
    throw new Error(
      `${scenario.namespace}: Prometheus counts ${counted} candidate requests in the window ` +
        `ending at scrape ${endScrape}, the bench generated ${generated}: ${result.reason}`,
    );
  }
}

async function detectionBench(binaries: { prometheus: string; promtool: string }): Promise<void> {
  const scenarios: Scenario[] = RATES.flatMap((rate) =>
    SEEDS.flatMap((seed) =>
      KINDS.map((kind) => ({ rate, seed, kind, namespace: `det-r${rate}-s${seed}-${kind}` })),
    ),
  );
  let started = performance.now();
  const data = scenarios.map((scenario, i) => ({
    scenario,
    revisions: [
      generateRevision(scenario, "stable", 2 * i),
      generateRevision(scenario, "candidate", 2 * i + 1),
    ],
  }));
  const { text, samples } = syntheticOpenMetrics(data);
  const generateMs = performance.now() - started;
  const { root, dataDir } = makeTempRoot("canary-analysis-bench-");
  let server: PrometheusServer | undefined;
  const outcomes: Outcome[] = [];
  const decisionsMs: number[] = [];
  let backfillMs: number;
  let startMs: number;
  try {
    started = performance.now();
    await backfill(binaries.promtool, text, dataDir);
    backfillMs = performance.now() - started;
    started = performance.now();
    server = await PrometheusServer.start(binaries.prometheus, dataDir);
    startMs = performance.now() - started;
    for (const { scenario, revisions } of data) {
      outcomes.push(await simulateRollout(server.url, scenario, revisions[1], decisionsMs));
    }
  } finally {
    try {
      await server?.stop();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  /** `5 % (3), 20 % (1)`: at which step runs ended, and how many. */
  const stepsOf = (ended: readonly Outcome[]): string =>
    STEPS.map((p) => [p, ended.filter((o) => o.percent === p).length] as const)
      .filter(([, n]) => n > 0)
      .map(([p, n]) => `${p} % (${n})`)
      .join(", ") || "-";
  const minutes = (STEPS.length * INTERVALS_PER_SEGMENT * INTERVAL_MS) / 60_000;
  console.log(
    `1. Time to detect a bad canary: ${scenarios.length} scenarios (rates ${RATES.join(", ")} ` +
      `req/s x seeds ${SEEDS.join(",")} x ${KINDS.join("/")}), steps ${STEPS.join(",")}, each step a ` +
      `segment of ${INTERVALS_PER_SEGMENT} intervals of ${DEFAULT_INTERVAL} (${minutes} min of ` +
      `history, one scrape per ${SCRAPE_MS / 1000} s)`,
  );
  console.log(
    `   stable ${100 * ERROR_RATE.stable} % 5xx; candidate bad ${100 * ERROR_RATE.bad} % / slow and healthy ` +
      `${100 * ERROR_RATE.healthy} % 5xx; latency lognormal, median ${LATENCY_MEDIAN_MS} ms, ` +
      `sigma ${LATENCY_SIGMA} (p99 ~128 ms), x ${LATENCY_FACTOR.slow} for the slow candidate; a seed's runs ` +
      `share their random draws`,
  );
  console.log(
    `   analysis: built-in opencensus, success margin ${DEFAULT_SUCCESS_MARGIN} points, latency ` +
      `margin ${DEFAULT_LATENCY_MARGIN} %, significance ${DEFAULT_SIGNIFICANCE}, window ` +
      `${ANALYSIS_WINDOW} (a hold: the step so far), sample interval a tenth of the window (at ` +
      `least ${DEFAULT_SAMPLE_INTERVAL}), p99 samples of 100 requests or more, min requests ` +
      `${DEFAULT_MIN_REQUESTS}, max inconclusive ${DEFAULT_MAX_INCONCLUSIVE}`,
  );
  console.log(
    `   data: ${samples} samples (${(text.length / 1e6).toFixed(1)} MB OpenMetrics) generated in ` +
      `${(generateMs / 1000).toFixed(1)} s; promtool backfill ${(backfillMs / 1000).toFixed(1)} s; ` +
      `Prometheus ready in ${(startMs / 1000).toFixed(1)} s; ${decisionsMs.length} analyses, ` +
      `median ${median(decisionsMs).toFixed(1)} ms each`,
  );
  console.log("");
  const detected = (kind: Kind, title: string): void => {
    console.log(`   ${title}: until rolled back`);
    console.log(
      `   ${"rate req/s".padEnd(10)}  ${`cand. req/window at ${STEPS[0]} %`.padEnd(23)}  ${"rolled back".padEnd(11)}  ` +
        `${"by fail".padEnd(7)}  ${"by fail-safe".padEnd(12)}  ${"at step (runs)".padEnd(16)}  ` +
        `${"intervals med [range]".padEnd(21)}  ${"seconds med [range]".padEnd(19)}  missed (promoted)`,
    );
    for (const rate of RATES) {
      const runs = outcomes.filter((o) => o.scenario.rate === rate && o.scenario.kind === kind);
      const back = runs.filter((o) => o.status !== "completed");
      const steps = stepsOf(back);
      console.log(
        `   ${String(rate).padEnd(10)}  ${String(Math.round((rate * STEPS[0] * INTERVAL_MS) / 100_000)).padEnd(23)}  ` +
          `${`${back.length}/${runs.length}`.padEnd(11)}  ` +
          `${String(runs.filter((o) => o.status === "fail").length).padEnd(7)}  ` +
          `${String(runs.filter((o) => o.status === "fail-safe").length).padEnd(12)}  ` +
          `${steps.padEnd(16)}  ${spread(back.map((o) => o.intervals)).padEnd(21)}  ` +
          `${spread(back.map((o) => (o.intervals * INTERVAL_MS) / 1000)).padEnd(19)}  ` +
          `${runs.length - back.length}/${runs.length}`,
      );
    }
  };
  detected("bad", `Bad candidate (${100 * ERROR_RATE.bad} % 5xx)`);
  console.log("");
  detected("slow", `Slow candidate (latencies x ${LATENCY_FACTOR.slow}, 0.1 % 5xx)`);
  console.log("");
  console.log("   Healthy candidate (0.1 % 5xx, as the stable): false alarms");
  console.log(
    `   ${"rate req/s".padEnd(10)}  ${"promoted".padEnd(8)}  ${"rolled back".padEnd(11)}  ` +
      `${"by fail".padEnd(7)}  ${"by fail-safe".padEnd(12)}  ${"at step (runs)".padEnd(16)}  ` +
      `${"intervals to the end med [range]".padEnd(32)}  held by sr / p99`,
  );
  for (const rate of RATES) {
    const runs = outcomes.filter((o) => o.scenario.rate === rate && o.scenario.kind === "healthy");
    const back = runs.filter((o) => o.status !== "completed");
    const steps = stepsOf(back);
    const sr = runs.reduce((a, o) => a + o.held.successRate, 0);
    const p99 = runs.reduce((a, o) => a + o.held.p99, 0);
    console.log(
      `   ${String(rate).padEnd(10)}  ${`${runs.length - back.length}/${runs.length}`.padEnd(8)}  ` +
        `${`${back.length}/${runs.length}`.padEnd(11)}  ` +
        `${String(runs.filter((o) => o.status === "fail").length).padEnd(7)}  ` +
        `${String(runs.filter((o) => o.status === "fail-safe").length).padEnd(12)}  ` +
        `${steps.padEnd(16)}  ${spread(runs.map((o) => o.intervals)).padEnd(32)}  ` +
        `${sr} / ${p99}`,
    );
  }
  console.log(
    "   (held by: the inconclusive analyses in which the success rate / the p99 was inconclusive)",
  );
  console.log("");
  console.log(
    "   Every run: P pass, F fail, I inconclusive, with the metrics that gave it (sr success " +
      "rate, p99 latency)",
  );
  for (const o of outcomes) {
    const end =
      o.status === "completed"
        ? "promoted"
        : `rolled back at ${o.percent} % by ${o.status === "fail" ? "a fail" : "the fail-safe"}`;
    console.log(
      `   ${o.scenario.namespace.padEnd(22)} ${o.trail.padEnd(54)} -> ${end}, ` +
        `${o.intervals} interval${o.intervals === 1 ? "" : "s"} (${(o.intervals * INTERVAL_MS) / 1000} s)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Part 2: one decision's latency

interface Case {
  readonly label: string;
  /** One decision; throws when its answer is not the fixture's. */
  readonly decide: (prometheusUrl: string) => Promise<void>;
  readonly ms: number[];
  instant: number;
  range: number;
}

async function decisionBench(binaries: { prometheus: string; promtool: string }): Promise<void> {
  const started = performance.now();
  const prometheus = await startKnativePrometheus(binaries, "canary-analysis-bench-");
  const startupMs = performance.now() - started;

  const base = (prometheusUrl: string, namespace: string) => ({
    prometheusUrl,
    namespace,
    candidate: REVISIONS.healthy,
    stable: REVISIONS.stable,
    window: WINDOW,
    at: AT,
    minRequests: DEFAULT_MIN_REQUESTS,
  });
  const analysis =
    (label: string, namespace: string, set: ReturnType<typeof builtInMetricSet>) =>
    async (url: string): Promise<void> => {
      const result = await analyseCanary({ ...base(url, namespace), metricSet: set });
      // A bench of wrong answers measures nothing: every decision must be the fixture's pass.
      if (result.verdict !== "pass")
        throw new Error(`${label}: ${result.verdict}: ${result.reason}`);
    };
  const specs: ReadonlyArray<Pick<Case, "label" | "decide">> = [
    {
      label: "opencensus, comparison",
      decide: analysis(
        "opencensus",
        NAMESPACES.opencensus,
        builtInMetricSet("opencensus", COMPARE),
      ),
    },
    {
      label: "otel, comparison (target_info join)",
      decide: analysis("otel", NAMESPACES.otel, builtInMetricSet("otel", COMPARE)),
    },
    {
      label: "opencensus, thresholds only",
      decide: analysis(
        "thresholds",
        NAMESPACES.opencensus,
        builtInMetricSet("opencensus", {
          minSuccessRate: THRESHOLDS.minSuccessRate,
          maxP99Ms: THRESHOLDS.maxP99Ms,
        }),
      ),
    },
    {
      label: "preflight, scheme detected",
      decide: async (url) => {
        const result = await preflightCanary({
          ...base(url, NAMESPACES.opencensus),
          criteria: COMPARE,
        });
        if (!result.ok || result.metricSet.source !== "built-in opencensus") {
          throw new Error(`preflight: ${JSON.stringify(result)}`);
        }
      },
    },
  ];
  const cases: Case[] = specs.map((c) => ({ ...c, ms: [], instant: 0, range: 0 }));

  try {
    const decide = async (c: Case): Promise<number> => {
      const before = { ...requests };
      const start = performance.now();
      await c.decide(prometheus.url);
      const elapsed = performance.now() - start;
      c.instant = requests.instant - before.instant;
      c.range = requests.range - before.range;
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
    `2. One decision against Prometheus on 127.0.0.1 (test fixture, healthy vs stable; startup ` +
      `incl. backfill ${startupMs.toFixed(0)} ms), ${RUNS} runs per case after ${WARMUP} warm-up runs`,
  );
  console.log(`   ${"case".padEnd(36)} instant  range  median ms   min ms   max ms`);
  for (const c of cases) {
    console.log(
      `   ${c.label.padEnd(36)} ${String(c.instant).padStart(7)} ${String(c.range).padStart(6)} ` +
        `${fmt(median(c.ms))}  ${fmt(Math.min(...c.ms))} ${fmt(Math.max(...c.ms))}`,
    );
  }
  console.log(
    "   (a proportion: 4 instant queries, candidate and stable, total and events; a compared " +
      "value: 2 instant + 4 range, the samples and their counts; preflight: vector(1), one per " +
      "detected scheme, each query of the set for the stable and the candidate, the " +
      "stable's samples and their counts)",
  );
}

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 10) {
    throw new Error(`ANALYSIS_BENCH_RUNS must be a whole number of at least 10, got ${RUNS}`);
  }
  const binaries = prometheusBinaries();
  if (typeof binaries === "string") throw new Error(binaries);
  await detectionBench(binaries);
  console.log("");
  await decisionBench(binaries);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
