// Canary analysis (automation/canaryAnalysis.ts) against a real Prometheus on 127.0.0.1, holding
// queue-proxy metrics backfilled with promtool at a fixed past date (test/support/knativeMetrics),
// under both of Knative's naming schemes: the candidate judged against the stable revision, by
// the built-in metrics and by metric files of one's own; preflight; and Prometheus failing in the
// ways a network does (stand-ins on loopback).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  analyseCanary,
  preflightCanary,
  validateCanaryOptions,
  type CanaryAnalysisOptions,
} from "../automation/canaryAnalysis";
import type { AnalysisResult, MetricVerdict } from "../automation/analysisTypes";
import {
  builtInMetricSet,
  loadMetricsFile,
  parseMetricSet,
  type BuiltInCriteria,
  type MetricSet,
} from "../automation/metricSet";
import { renderQuery } from "../automation/prometheusClient";
import { FakeServer, sendJson } from "./support/fakeHttp";
import {
  AT,
  EXPECTED,
  KnativePrometheus,
  NAMESPACES,
  REVISIONS,
  startKnativePrometheus,
  WINDOW,
} from "./support/knativeMetrics";
import { freePort, promMatrix, promVector, requirePrometheus } from "./support/prometheus";

// Counters grow linearly in the fixture: requests and shares are exact up to float rounding, and
// so is the p99, Prometheus' interpolation inside one bucket (knativeMetrics explains each).
const EXACT = 1e-6;

/** A scalar 1 that mentions {revision} and {window}, as every template must: for constants. */
const ANY_REVISION = 'scalar(absent_over_time(up{x="{revision}"}[{window}]))';

/** Thresholds only, as `canary rollout` judged before the comparison existed. */
const ABSOLUTE: BuiltInCriteria = { minSuccessRate: 99, maxP99Ms: 300 };
/** The comparison only, with the command's default margins. */
const COMPARE: BuiltInCriteria = { successMargin: 0.5, latencyMargin: 20 };

function near(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined, `${what} missing`);
  assert.ok(Math.abs(actual - expected) <= EXACT, `${what}: expected ${expected}, got ${actual}`);
}

function assertVerdict(result: { verdict: string; reason: string }, verdict: string): void {
  assert.equal(result.verdict, verdict, `verdict ${result.verdict}: ${result.reason}`);
}

function metric(result: AnalysisResult, name: string): MetricVerdict {
  const found = result.metrics?.find((m) => m.name === name);
  assert.ok(found, `metric ${name} in ${JSON.stringify(result)}`);
  return found;
}

const madeDirs: string[] = [];
after(() => {
  for (const dir of madeDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-metrics-"));
  madeDirs.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe("canary analysis against a real Prometheus", function () {
  this.timeout(30_000);
  let prometheus: KnativePrometheus | undefined;

  before(async function () {
    const binaries = requirePrometheus(this);
    prometheus = await startKnativePrometheus(binaries, "canary-comparison-test-");
  });

  after(async () => {
    await prometheus?.close();
  });

  const options = (
    namespace: string,
    candidate: string,
    stable: string,
    metricSet: MetricSet,
    extra: Partial<CanaryAnalysisOptions> = {},
  ): CanaryAnalysisOptions => {
    assert.ok(prometheus, "Prometheus not started");
    return {
      prometheusUrl: prometheus.url,
      namespace,
      candidate,
      stable,
      window: WINDOW,
      at: AT,
      metricSet,
      minRequests: 100,
      ...extra,
    };
  };

  for (const scheme of ["opencensus", "otel"] as const) {
    describe(`${scheme} metrics`, () => {
      const namespace = NAMESPACES[scheme];
      const expected = EXPECTED[scheme];
      const builtIn = (criteria: BuiltInCriteria) => builtInMetricSet(scheme, criteria);
      const judge = (candidate: string, stable: string, criteria: BuiltInCriteria, extra = {}) =>
        analyseCanary(options(namespace, candidate, stable, builtIn(criteria), extra));

      it("passes a healthy candidate against a healthy stable, with both sides' numbers", async () => {
        const result = await judge(REVISIONS.healthy, REVISIONS.stable, {
          ...ABSOLUTE,
          ...COMPARE,
        });
        assertVerdict(result, "pass");
        assert.equal(result.stable, REVISIONS.stable);
        const success = metric(result, "success-rate");
        near(success.candidate, expected.healthy.successRate, "candidate success rate");
        near(success.stable, expected.stable.successRate, "stable success rate");
        near(success.candidateTotal, expected.healthy.requests, "candidate requests");
        near(success.stableTotal, expected.stable.requests, "stable requests");
        assert.ok(success.pNotWorse! < 0.01 && success.pWorse! > 0.5, JSON.stringify(success));
        const p99 = metric(result, "p99-latency");
        near(p99.candidate, expected.healthy.p99Ms, "candidate p99");
        near(p99.stable, expected.stable.p99Ms, "stable p99");
        // 5m in samples of 30s: 10 a side, every one with data.
        assert.deepEqual(p99.samples, { candidate: 10, stable: 10 });
        assert.match(result.reason, /Passed for shop-healthy against shop-stable/);
        assert.match(result.reason, /not worse than stable by 0\.5 points/);
      });

      it("fails a candidate with twice the stable's error rate, though both pass a 95 % minimum", async () => {
        const lenient = { minSuccessRate: 95 };
        const absolute = await judge(REVISIONS.errors, REVISIONS.stableSomeErrors, lenient);
        assertVerdict(absolute, "pass");
        const result = await judge(REVISIONS.errors, REVISIONS.stableSomeErrors, {
          ...lenient,
          ...COMPARE,
        });
        assertVerdict(result, "fail");
        const success = metric(result, "success-rate");
        near(success.candidate, expected.errors.successRate, "candidate");
        near(success.stable, expected.stableSomeErrors.successRate, "stable");
        assert.equal(success.verdict, "fail");
        assert.match(
          success.reason,
          /success-rate 97 % vs stable 98\.5 %: worse than stable by more than 0\.5 points \(p = 0\.001\d* < 0\.01\)/,
        );
        assert.equal(metric(result, "p99-latency").verdict, "pass");
      });

      it("passes a slow day (both slower) that the absolute p99 would fail", async () => {
        const absolute = await judge(REVISIONS.slow, REVISIONS.stableSlow, ABSOLUTE);
        assertVerdict(absolute, "fail");
        assert.match(metric(absolute, "p99-latency").reason, /beyond its maximum 300 ms/);
        const result = await judge(REVISIONS.slow, REVISIONS.stableSlow, COMPARE);
        assertVerdict(result, "pass");
        near(metric(result, "p99-latency").candidate, expected.slow.p99Ms, "candidate p99");
        near(metric(result, "p99-latency").stable, expected.stableSlow.p99Ms, "stable p99");
      });

      it("fails a slower candidate against a fast stable by the comparison alone", async () => {
        const result = await judge(REVISIONS.slow, REVISIONS.stable, COMPARE);
        assertVerdict(result, "fail");
        const p99 = metric(result, "p99-latency");
        assert.equal(p99.verdict, "fail");
        assert.match(p99.reason, /worse than stable by more than 20 %/);
      });

      it("combines both: a threshold fails on its own while the comparison passes", async () => {
        const result = await judge(REVISIONS.slow, REVISIONS.stableSlow, {
          ...COMPARE,
          maxP99Ms: 300,
        });
        assertVerdict(result, "fail");
        assert.match(
          metric(result, "p99-latency").reason,
          /beyond its maximum 300 ms; p99-latency .* not worse than stable/,
        );
      });

      it("is inconclusive, never pass, with too little data", async () => {
        const quiet = await judge(REVISIONS.quiet, REVISIONS.stable, COMPARE);
        assertVerdict(quiet, "inconclusive");
        assert.match(
          metric(quiet, "success-rate").reason,
          /only 40 in total for shop-quiet, fewer than the 100 needed/,
        );
        // Enough requests, but one sample interval in the window: the comparison cannot be made.
        const short = await judge(REVISIONS.healthy, REVISIONS.stable, COMPARE, { window: "30s" });
        assertVerdict(short, "inconclusive");
        assert.match(
          metric(short, "p99-latency").reason,
          /too few samples to compare \(1 of shop-healthy, 1 of shop-stable/,
        );
        // And a candidate without series at all.
        const none = await judge("shop-0000000", REVISIONS.stable, COMPARE);
        assertVerdict(none, "inconclusive");
        assert.match(none.reason, /no series for shop-0000000/);
      });

      it("leaves p99 samples of fewer than 100 requests out of the comparison", async () => {
        // 40 requests in the window pass minRequests 40, but each 30 s sample holds 4.
        const quiet = await judge(REVISIONS.quiet, REVISIONS.stable, COMPARE, { minRequests: 40 });
        assertVerdict(quiet, "inconclusive");
        const p99 = metric(quiet, "p99-latency");
        assert.deepEqual(p99.samples, { candidate: 0, stable: 10 });
        assert.match(
          p99.reason,
          /left out for fewer than 100 observations: 10 of shop-quiet, 0 of shop-stable/,
        );
      });

      it("keeps out the same revision name failing in another namespace", async () => {
        const other = await analyseCanary(
          options(NAMESPACES.noise, REVISIONS.healthy, REVISIONS.stable, builtIn(ABSOLUTE)),
        );
        assertVerdict(other, "fail");
        near(metric(other, "success-rate").candidate, 0, "success rate of the other namespace");
        near(metric(other, "success-rate").candidateTotal, 1000, "requests of the other namespace");
      });

      it("preflight detects the scheme from the stable revision's series", async () => {
        const { metricSet: _none, ...rest } = options(
          namespace,
          REVISIONS.healthy,
          REVISIONS.stable,
          builtIn(COMPARE),
        );
        void _none;
        const result = await preflightCanary({ ...rest, criteria: COMPARE });
        assert.ok(result.ok, JSON.stringify(result));
        assert.equal(result.metricSet.source, `built-in ${scheme}`);
        assert.deepEqual(result.checked, [
          "success-rate (events)",
          "success-rate (total)",
          "p99-latency (query)",
        ]);
      });
    });
  }

  describe("preflight refuses before any traffic moves", () => {
    const base = () => {
      const { metricSet: _none, ...rest } = options(
        NAMESPACES.opencensus,
        REVISIONS.healthy,
        REVISIONS.stable,
        builtInMetricSet("opencensus", COMPARE),
      );
      void _none;
      return { ...rest, criteria: COMPARE };
    };

    it("a wrong URL: nothing listening, or not the Prometheus API", async () => {
      const port = await freePort();
      const refused = await preflightCanary({
        ...base(),
        prometheusUrl: `http://127.0.0.1:${port}`,
      });
      assert.equal(refused.ok, false);
      assert.match(JSON.stringify(refused), /could not be reached .*ECONNREFUSED/);
      const wrongPath = await preflightCanary({
        ...base(),
        prometheusUrl: `${prometheus?.url}/graph`,
      });
      assert.equal(wrongPath.ok, false);
      assert.match(
        JSON.stringify(wrongPath),
        /answered HTTP 404 with no JSON \(is this the Prometheus base URL\?\)/,
      );
    });

    it("a stable revision without series", async () => {
      const result = await preflightCanary({ ...base(), stable: "shop-0000000" });
      assert.equal(result.ok, false);
      assert.match(
        JSON.stringify(result),
        /the stable revision shop-0000000 has no request series in namespace shop-oc/,
      );
      const chosen = await preflightCanary({ ...base(), stable: "shop-0000000", scheme: "otel" });
      assert.ok(!chosen.ok);
      assert.deepEqual(
        chosen.problems.map((p) => p.replace(/ in namespace.*/, "")),
        [
          "metric success-rate (total): the stable revision shop-0000000 has no series",
          "metric p99-latency (query): the stable revision shop-0000000 has no series",
        ],
      );
    });

    it("series under both schemes (an upgrade in the window) until one is chosen", async () => {
      const result = await preflightCanary({
        ...base(),
        namespace: NAMESPACES.noise,
        stable: REVISIONS.healthy,
        candidate: REVISIONS.errors,
      });
      assert.ok(!result.ok);
      assert.match(
        result.problems[0],
        /under both the opencensus and the otel names .* choose one with --metrics/,
      );
      const chosen = await preflightCanary({
        ...base(),
        namespace: NAMESPACES.noise,
        stable: REVISIONS.healthy,
        candidate: REVISIONS.errors,
        scheme: "otel",
      });
      assert.ok(chosen.ok, JSON.stringify(chosen));
    });

    it("a query Prometheus refuses, named by metric and field", async () => {
      const file = tempFile(
        "bad.yaml",
        [
          "metrics:",
          "  - name: broken",
          "    type: value",
          '    query: sum(rate(revision_app_request_count{revision_name="{revision}"}[{window}])',
          "    direction: lower",
          "    threshold: 5",
        ].join("\n"),
      );
      const result = await preflightCanary({ ...base(), metricSet: loadMetricsFile(file) });
      assert.ok(!result.ok);
      assert.match(
        result.problems[0],
        /^metric broken \(query\): Prometheus answered HTTP 400 bad_data: .*parse error/,
      );
    });

    it("a query that breaks for the candidate (two series where the stable has one pod)", async () => {
      const set = parseMetricSet(
        {
          metrics: [
            {
              name: "per-pod",
              type: "value",
              query:
                'revision_app_request_count{namespace_name="{namespace}",revision_name="{revision}",response_code="200"}',
              direction: "lower",
              threshold: 1e9,
            },
          ],
        },
        "test",
      );
      const result = await preflightCanary({
        ...base(),
        stable: REVISIONS.errors,
        candidate: REVISIONS.healthy,
        metricSet: set,
      });
      assert.ok(!result.ok);
      assert.match(
        result.problems[0],
        /^metric per-pod \(query\): .* returned 2 series instead of one/,
      );
    });

    it("a stable revision with fewer requests than an analysis needs", async () => {
      const result = await preflightCanary({ ...base(), stable: REVISIONS.quiet });
      assert.ok(!result.ok);
      assert.match(
        result.problems.join("\n"),
        /metric success-rate \(total\): the stable revision shop-quiet has only 40 .* fewer than the 100 each analysis needs/,
      );
    });

    it("a sample interval shorter than two scrapes: the stable's real samples are counted", async () => {
      const result = await preflightCanary({ ...base(), sampleInterval: "10s" });
      assert.ok(!result.ok);
      assert.match(
        result.problems.join("\n"),
        /metric p99-latency \(compare\): the stable revision has 0 usable samples of the 30 .* A rate needs two scrapes inside each sample/,
      );
    });

    it("an events query without series is a warning: no events, or a matcher that never matches", async () => {
      const set = parseMetricSet(
        {
          metrics: [
            {
              name: "error-rate",
              type: "proportion",
              events:
                'sum(increase(revision_app_request_count{namespace_name="{namespace}",revision_name="{revision}",response_code=~"5xx"}[{window}]))',
              total:
                'sum(increase(revision_app_request_count{namespace_name="{namespace}",revision_name="{revision}"}[{window}]))',
              direction: "lower",
              threshold: 1,
            },
          ],
        },
        "test",
      );
      const result = await preflightCanary({ ...base(), metricSet: set });
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.warnings.length, 1);
      assert.match(
        result.warnings[0],
        /metric error-rate \(events\): no events for the stable revision shop-stable .* a matcher that never matches/,
      );
    });

    it("resource labels on the series: only with the scheme chosen", async () => {
      const detected = await preflightCanary({
        ...base(),
        namespace: NAMESPACES.otelResourceLabels,
        stable: REVISIONS.healthy,
        candidate: REVISIONS.errors,
      });
      assert.ok(!detected.ok);
      const chosen = await preflightCanary({
        ...base(),
        namespace: NAMESPACES.otelResourceLabels,
        stable: REVISIONS.healthy,
        candidate: REVISIONS.errors,
        scheme: "otel-resource-labels",
      });
      assert.ok(chosen.ok, JSON.stringify(chosen));
    });
  });

  describe("a metrics file of one's own", () => {
    // Mean latency from the histograms' _sum and _count, and a share of 2xx responses.
    const file = (threshold: number, margin: number) =>
      tempFile(
        "metrics.yaml",
        `# mean latency and 2xx share, OpenCensus names
metrics:
  - name: mean-latency
    type: value
    query: >-
      sum(rate(revision_app_request_latencies_sum{namespace_name="{namespace}",revision_name="{revision}"}[{window}]))
      / sum(rate(revision_app_request_count{namespace_name="{namespace}",revision_name="{revision}"}[{window}]))
    unit: ms
    direction: lower
    threshold: ${threshold}
  - name: ok-share
    type: proportion
    events: sum(increase(revision_app_request_count{namespace_name="{namespace}",revision_name="{revision}",response_code=~"2.."}[{window}]))
    total: sum(increase(revision_app_request_count{namespace_name="{namespace}",revision_name="{revision}"}[{window}]))
    direction: higher
    compare:
      margin: ${margin}
`,
      );
    const run = (candidate: string, stable: string, set: MetricSet) =>
      analyseCanary(options(NAMESPACES.opencensus, candidate, stable, set));

    it("passes and fails as its thresholds and margins say", async () => {
      const set = loadMetricsFile(file(100, 0.5));
      const healthy = await run(REVISIONS.healthy, REVISIONS.stable, set);
      assertVerdict(healthy, "pass");
      near(metric(healthy, "mean-latency").candidate, 38.615, "mean latency");
      near(metric(healthy, "ok-share").candidate, 99.5, "2xx share");
      const slow = await run(REVISIONS.slow, REVISIONS.stableSlow, set);
      assertVerdict(slow, "fail");
      assert.match(slow.reason, /mean-latency 290 ms is beyond its maximum 100 ms/);
      const errors = await run(REVISIONS.errors, REVISIONS.stableSomeErrors, set);
      assertVerdict(errors, "fail");
      assert.match(
        errors.reason,
        /ok-share 97 % vs stable 98\.5 %: worse than stable by more than 0\.5 points/,
      );
      // The same data with a looser file: a 300 ms limit and a 3-point margin (1.5 points worse is shown within it).
      const loose = loadMetricsFile(file(300, 3));
      assertVerdict(await run(REVISIONS.slow, REVISIONS.stableSlow, loose), "pass");
      assertVerdict(await run(REVISIONS.errors, REVISIONS.stableSomeErrors, loose), "pass");
    });

    it("never judges on NaN, infinite or negative values", async () => {
      const constant = (value: string): MetricSet =>
        parseMetricSet(
          {
            metrics: [
              {
                name: "constant",
                type: "value",
                query: `${value} + 0 * ${ANY_REVISION}`,
                direction: "lower",
                threshold: 100,
              },
            ],
          },
          "test",
        );
      for (const value of ["+Inf", "-5"]) {
        const result = await run(REVISIONS.healthy, REVISIONS.stable, constant(value));
        assertVerdict(result, "inconclusive");
        assert.match(result.reason, /the data cannot be trusted/);
      }
      // NaN is a quantile or a mean of nothing: no value, not broken data.
      const nan = await run(REVISIONS.healthy, REVISIONS.stable, constant("NaN"));
      assertVerdict(nan, "inconclusive");
      assert.match(nan.reason, /no value for shop-healthy \(NaN: nothing to compute it from\)/);
      assertVerdict(await run(REVISIONS.healthy, REVISIONS.stable, constant("12.5")), "pass");
      const share = parseMetricSet(
        {
          metrics: [
            {
              name: "share",
              type: "proportion",
              events: `50 + 0 * ${ANY_REVISION}`,
              total: `40 + 0 * ${ANY_REVISION}`,
              direction: "higher",
              threshold: 1,
            },
          ],
        },
        "test",
      );
      const more = await run(REVISIONS.healthy, REVISIONS.stable, share);
      assertVerdict(more, "inconclusive");
      assert.match(more.reason, /events 50 of 40 .* is not a share/);
    });

    it("fails on one metric's fail beside another without a value, or whose query broke", async () => {
      const success = builtInMetricSet("opencensus", COMPARE).metrics[0];
      const nothing = {
        name: "no-value",
        type: "value",
        query: `NaN + 0 * ${ANY_REVISION}`,
        direction: "lower",
        threshold: 100,
      };
      const several = {
        name: "several",
        type: "value",
        query: 'revision_app_request_count{revision_name="{revision}"}',
        direction: "lower",
        threshold: 1,
      };
      for (const other of [nothing, several]) {
        const set = parseMetricSet(
          JSON.parse(JSON.stringify({ metrics: [success, other] })),
          "test",
        );
        const result = await run(REVISIONS.errors, REVISIONS.stableSomeErrors, set);
        assertVerdict(result, "fail");
        assert.equal(metric(result, other.name).verdict, "inconclusive");
      }
    });

    it("is inconclusive when a query returns several series", async () => {
      const set = parseMetricSet(
        {
          metrics: [
            {
              name: "several",
              type: "value",
              query: 'revision_app_request_count{revision_name="{revision}"}',
              direction: "lower",
              threshold: 1,
            },
          ],
        },
        "test",
      );
      const result = await run(REVISIONS.healthy, REVISIONS.stable, set);
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /returned \d+ series instead of one/);
    });
  });

  describe("Prometheus out of reach during an analysis", () => {
    let fake: FakeServer | undefined;
    afterEach(async () => {
      await fake?.stop();
      fake = undefined;
    });
    const set = builtInMetricSet("opencensus", COMPARE);

    it("is inconclusive when nothing listens on the port", async () => {
      const port = await freePort();
      const result = await analyseCanary({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy, REVISIONS.stable, set),
        prometheusUrl: `http://127.0.0.1:${port}`,
      });
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /could not be reached .*ECONNREFUSED/);
    });

    it("is inconclusive when the answer is not Prometheus JSON, keeping a path prefix", async () => {
      fake = new FakeServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<html>login</html>");
      });
      const url = await fake.start();
      const result = await analyseCanary({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy, REVISIONS.stable, set),
        prometheusUrl: `${url}/prometheus`,
      });
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /answered HTTP 200 with no JSON .*: <html>login/);
      // A path prefix (Prometheus behind a proxy) is kept in front of the API path.
      assert.equal(fake.requests[0].path.replace(/_range$/, ""), "/prometheus/api/v1/query");
      assert.equal(fake.requests[0].method, "POST");
    });

    it("asks for one sample per sample interval over the window, at the analysis time", async () => {
      const at = AT.getTime() / 1000;
      fake = new FakeServer((req, res) => {
        if (req.path === "/api/v1/query") {
          sendJson(res, 200, promVector("1000", at));
        } else {
          // p99 samples of 50 ms, each behind 150 requests (the sample counts).
          const query = new URLSearchParams(req.body).get("query") ?? "";
          const value = query.startsWith("histogram_quantile") ? "50" : "150";
          const values = Array.from({ length: 10 }, (_, i) => [at - 270 + 30 * i, value] as const);
          sendJson(res, 200, promMatrix(values));
        }
      });
      const url = await fake.start();
      const result = await analyseCanary({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy, REVISIONS.stable, set),
        prometheusUrl: url,
      });
      // Every count 1000 (events and total alike: 100 %), every p99 sample 50 ms.
      assert.deepEqual(metric(result, "p99-latency").samples, { candidate: 10, stable: 10 });
      const instant = fake.requests.filter((r) => r.path === "/api/v1/query");
      assert.equal(instant.length, 6, "4 counts and 2 values");
      for (const request of instant) {
        assert.equal(new URLSearchParams(request.body).get("time"), String(at));
      }
      const ranges = fake.requests.filter((r) => r.path === "/api/v1/query_range");
      assert.equal(ranges.length, 4, "the candidate's and the stable's samples, and their counts");
      for (const request of ranges) {
        const form = new URLSearchParams(request.body);
        assert.equal(form.get("end"), String(at));
        assert.equal(form.get("start"), String(at - 300 + 30));
        assert.equal(form.get("step"), "30");
        assert.match(form.get("query") ?? "", /\[30s\]/);
      }
    });

    it("never passes a latency whose samples say 'not worse' while the whole window says worse", async () => {
      // A few very slow requests in two samples of ten: the samples' median is unmoved, the
      // window's p99 is 10 times the stable's (the reviewer's case).
      const at = AT.getTime() / 1000;
      fake = new FakeServer((req, res) => {
        const query = new URLSearchParams(req.body).get("query") ?? "";
        const candidate = query.includes(REVISIONS.healthy);
        const latency = query.startsWith("histogram_quantile");
        const vector = (value: string) => sendJson(res, 200, promVector(value, at));
        if (req.path === "/api/v1/query") {
          if (!latency) return vector("1200"); // events and total alike: every request a success
          return vector(candidate ? "814.3" : "76");
        }
        const values = Array.from({ length: 10 }, (_, i) => {
          const sample = !latency ? "150" : candidate ? (i % 5 === 0 ? "860" : "39.97") : "76";
          return [at - 270 + 30 * i, sample] as const;
        });
        sendJson(res, 200, promMatrix(values));
      });
      const url = await fake.start();
      const result = await analyseCanary({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy, REVISIONS.stable, set),
        prometheusUrl: url,
      });
      const p99 = metric(result, "p99-latency");
      assert.ok(p99.pNotWorse! < 0.01, "the samples alone would pass it");
      assert.equal(p99.verdict, "inconclusive", p99.reason);
      assert.match(
        p99.reason,
        /over the whole window the candidate is beyond stable x 1\.2: no pass/,
      );
      assertVerdict(result, "inconclusive");
    });

    it("says Prometheus' error at preflight's detection, not 'no series'", async () => {
      fake = new FakeServer((req, res) => {
        const query = new URLSearchParams(req.body).get("query");
        if (query === "vector(1)") {
          sendJson(res, 200, promVector("1"));
        } else {
          sendJson(res, 503, { status: "error", errorType: "timeout", error: "query timed out" });
        }
      });
      const url = await fake.start();
      const { metricSet: _none, ...rest } = options(
        NAMESPACES.opencensus,
        REVISIONS.healthy,
        REVISIONS.stable,
        set,
      );
      void _none;
      const result = await preflightCanary({ ...rest, prometheusUrl: url, criteria: COMPARE });
      assert.ok(!result.ok);
      assert.match(
        result.problems[0],
        /^Prometheus: Prometheus answered HTTP 503 timeout: query timed out/,
      );
    });

    it("is inconclusive on status error JSON and on HTTP 503", async () => {
      fake = new FakeServer((_req, res) =>
        sendJson(res, 503, { status: "error", errorType: "unavailable", error: "shutting down" }),
      );
      const url = await fake.start();
      const result = await analyseCanary({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy, REVISIONS.stable, set),
        prometheusUrl: url,
      });
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /HTTP 503 unavailable: shutting down/);
    });

    it("is inconclusive when Prometheus does not answer within timeoutMs", async () => {
      fake = new FakeServer(() => {
        // never answers
      });
      const url = await fake.start();
      const started = Date.now();
      const result = await analyseCanary({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy, REVISIONS.stable, set, {
          timeoutMs: 300,
        }),
        prometheusUrl: url,
      });
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /no answer within 300 ms/);
      assert.ok(Date.now() - started < 3_000, "the timeout bounds the analysis");
    });
  });

  it("evaluates at the current time when `at` is unset", async () => {
    const before = Date.now();
    const { at: _unused, ...rest } = options(
      NAMESPACES.opencensus,
      REVISIONS.healthy,
      REVISIONS.stable,
      builtInMetricSet("opencensus", COMPARE),
    );
    void _unused;
    const result = await analyseCanary(rest);
    // The fixture lies in 2024: nothing now.
    assertVerdict(result, "inconclusive");
    const when = /ending (\S+?Z)/.exec(result.reason);
    assert.ok(when, result.reason);
    assert.ok(Date.parse(when[1]) >= before - 1000 && Date.parse(when[1]) <= Date.now() + 1000);
  });
});

describe("canary analysis options", () => {
  const valid: CanaryAnalysisOptions = {
    prometheusUrl: "http://prometheus:9090",
    namespace: "shop",
    candidate: "shop-abc1234",
    stable: "shop-0a1b2c3",
    window: "5m",
    metricSet: builtInMetricSet("opencensus", COMPARE),
    minRequests: 100,
  };
  const cases: Array<[string, Partial<CanaryAnalysisOptions>, RegExp]> = [
    ["an ftp URL", { prometheusUrl: "ftp://x" }, /prometheusUrl must be an http\(s\) URL/],
    [
      "credentials in the URL",
      { prometheusUrl: "http://u:p@x" },
      /no query, fragment or credentials/,
    ],
    [
      "a stable equal to the candidate",
      { stable: "shop-abc1234" },
      /stable must differ from the candidate/,
    ],
    ["a bad window", { window: "5 minutes" }, /window must be a PromQL duration/],
    [
      "a sample interval above the window",
      { sampleInterval: "10m" },
      /sampleInterval must be .* at most the window \(5m\)/,
    ],
    [
      "a significance of 0.5",
      { significance: 0.5 },
      /significance must be a probability above 0 and below 0\.5/,
    ],
    ["minRequests 0", { minRequests: 0 }, /minRequests must be a whole number of at least 1/],
    ["an upper-case revision", { candidate: "Shop" }, /candidate must be a Kubernetes name/],
  ];
  for (const [what, change, message] of cases) {
    it(`throws for ${what}`, () => {
      assert.throws(() => validateCanaryOptions({ ...valid, ...change }), message);
    });
  }
  it("accepts the defaults", () => validateCanaryOptions(valid));

  it("renders templates with escaped label values", () => {
    assert.equal(
      renderQuery('x{a="{namespace}",b="{revision}"}[{window}]', {
        namespace: 'n"s',
        revision: "r\\v",
        window: "1m",
      }),
      'x{a="n\\"s",b="r\\\\v"}[1m]',
    );
  });
});
