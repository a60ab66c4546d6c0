// Canary analysis (automation/analysis.ts) against a real Prometheus on 127.0.0.1, holding
// queue-proxy metrics backfilled with promtool at a fixed past date (test/support/knativeMetrics),
// under both of Knative's naming schemes; plus Prometheus failing in the ways a network does.
import { strict as assert } from "assert";
import {
  analyseCandidate,
  buildPreset,
  OTEL_PRESET,
  OTEL_RESOURCE_LABELS_PRESET,
  parsePromDuration,
  renderQuery,
} from "../automation/analysis";
import {
  AnalysisOptions,
  AnalysisResult,
  impossibleValues,
  MetricsPreset,
} from "../automation/analysisTypes";
import { runRollout } from "../automation/rollout";
import { MemoryStackDriver } from "./support/memoryStackDriver";
import { FakeServer, sendJson } from "./support/fakeHttp";
import {
  AT,
  EXPECTED,
  KnativePrometheus,
  NAMESPACES,
  REVISIONS,
  startKnativePrometheus,
  THRESHOLDS,
  WINDOW,
} from "./support/knativeMetrics";
import { freePort, requirePrometheus } from "./support/prometheus";

// Requests and success rates come from linear counters: exact up to float rounding.
const EXACT = 1e-6;
// The p99 is Prometheus' linear interpolation inside a bucket; the data never sits on a bound,
// so the interpolated value is itself exact (EXPECTED explains each one). What interpolation
// costs is accuracy, asserted separately: the true p99 is only known to lie in that bucket.
const P99_TOLERANCE_MS = 1e-6;

function near(actual: number | undefined, expected: number, tolerance: number, what: string): void {
  assert.ok(actual !== undefined, `${what} missing`);
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: expected ${expected} (within ${tolerance}), got ${actual}`,
  );
}

function assertVerdict(result: AnalysisResult, verdict: AnalysisResult["verdict"]): void {
  assert.equal(result.verdict, verdict, `verdict ${result.verdict}: ${result.reason}`);
}

describe("analyseCandidate against a real Prometheus", function () {
  this.timeout(20_000);
  let prometheus: KnativePrometheus | undefined;

  before(async function () {
    const binaries = requirePrometheus(this);
    prometheus = await startKnativePrometheus(binaries, "canary-analysis-test-");
  });

  after(async () => {
    await prometheus?.close();
  });

  const options = (
    namespace: string,
    revision: string,
    extra: Partial<AnalysisOptions> = {},
  ): AnalysisOptions => {
    assert.ok(prometheus, "Prometheus not started");
    return {
      prometheusUrl: prometheus.url,
      namespace,
      revision,
      window: WINDOW,
      at: AT,
      ...THRESHOLDS,
      ...extra,
    };
  };

  for (const scheme of ["opencensus", "otel"] as const) {
    describe(`${scheme} preset`, () => {
      const namespace = NAMESPACES[scheme];
      const expected = EXPECTED[scheme];
      // The bucket holding the true p99 (70 ms healthy, 380 ms slow): the interpolated value
      // must stay inside it, whatever the scheme's bounds.
      const healthyBucket = scheme === "opencensus" ? [60, 80] : [50, 75];
      const slowBucket = scheme === "opencensus" ? [350, 400] : [250, 500];

      it("passes a healthy candidate (2 pods) and reports its numbers", async () => {
        const result = await analyseCandidate(
          options(namespace, REVISIONS.healthy, { metrics: scheme }),
        );
        assertVerdict(result, "pass");
        assert.equal(result.preset, scheme);
        near(result.requests, expected.healthy.requests, EXACT, "requests");
        near(result.successRate, expected.healthy.successRate, EXACT, "successRate");
        near(result.p99Ms, expected.healthy.p99Ms, P99_TOLERANCE_MS, "p99Ms");
        assert.ok(result.p99Ms! > healthyBucket[0] && result.p99Ms! <= healthyBucket[1]);
        assert.match(result.reason, /8000 requests \(minimum 100\)/);
        assert.match(result.reason, /success rate 99\.5% \(minimum 99%\)/);
        assert.match(result.reason, new RegExp(`p99 latency ${expected.healthy.p99Ms} ms`));
        assert.match(result.reason, /\(maximum 300 ms\)/);
      });

      it("fails a candidate answering 3 % 5xx", async () => {
        const result = await analyseCandidate(
          options(namespace, REVISIONS.errors, { metrics: scheme }),
        );
        assertVerdict(result, "fail");
        near(result.requests, expected.errors.requests, EXACT, "requests");
        near(result.successRate, expected.errors.successRate, EXACT, "successRate");
        near(result.p99Ms, expected.errors.p99Ms, P99_TOLERANCE_MS, "p99Ms");
        assert.match(result.reason, /success rate below the minimum/);
        assert.match(result.reason, /success rate 97% \(minimum 99%\)/);
      });

      it("fails a candidate whose p99 is over the limit", async () => {
        const result = await analyseCandidate(
          options(namespace, REVISIONS.slow, { metrics: scheme }),
        );
        assertVerdict(result, "fail");
        near(result.successRate, 100, EXACT, "successRate");
        near(result.p99Ms, expected.slow.p99Ms, P99_TOLERANCE_MS, "p99Ms");
        assert.ok(result.p99Ms! > slowBucket[0] && result.p99Ms! <= slowBucket[1]);
        assert.match(result.reason, /p99 latency above the maximum/);
        assert.match(result.reason, new RegExp(`p99 latency ${expected.slow.p99Ms} ms`));
        // Raising the limit above the interpolated value turns the same data into a pass.
        const relaxed = await analyseCandidate(
          options(namespace, REVISIONS.slow, { metrics: scheme, maxP99Ms: 500 }),
        );
        assertVerdict(relaxed, "pass");
      });

      it("is inconclusive with fewer requests than minRequests", async () => {
        const result = await analyseCandidate(
          options(namespace, REVISIONS.quiet, { metrics: scheme }),
        );
        assertVerdict(result, "inconclusive");
        near(result.requests, expected.quiet.requests, EXACT, "requests");
        assert.match(
          result.reason,
          /Only 40 requests .* fewer than the 100 needed \(minRequests\)/,
        );
        const enough = await analyseCandidate(
          options(namespace, REVISIONS.quiet, { metrics: scheme, minRequests: 40 }),
        );
        assertVerdict(enough, "pass");
      });

      it("is inconclusive for a revision without series", async () => {
        const result = await analyseCandidate(
          options(namespace, "shop-0000000", { metrics: scheme }),
        );
        assertVerdict(result, "inconclusive");
        assert.equal(result.requests, undefined);
        assert.match(result.reason, /No request series for revision shop-0000000/);
      });

      it("keeps out the same revision name failing in another namespace", async () => {
        const other = await analyseCandidate(
          options(NAMESPACES.noise, REVISIONS.healthy, { metrics: scheme }),
        );
        assertVerdict(other, "fail");
        near(other.successRate, 0, EXACT, "successRate of the other namespace");
        near(other.requests, 1000, EXACT, "requests of the other namespace");
      });

      it("is detected when metrics is unset", async () => {
        const result = await analyseCandidate(options(namespace, REVISIONS.healthy));
        assertVerdict(result, "pass");
        assert.equal(result.preset, scheme);
        near(result.p99Ms, expected.healthy.p99Ms, P99_TOLERANCE_MS, "p99Ms");
        const failing = await analyseCandidate(options(namespace, REVISIONS.errors));
        assertVerdict(failing, "fail");
        assert.equal(failing.preset, scheme);
      });
    });
  }

  describe("auto-detection", () => {
    it("is inconclusive when neither scheme has series for the revision", async () => {
      const result = await analyseCandidate(options(NAMESPACES.opencensus, "shop-0000000"));
      assertVerdict(result, "inconclusive");
      assert.equal(result.preset, undefined);
      assert.match(result.reason, /neither the opencensus names .* nor the otel names/);
    });

    it("is inconclusive when both schemes have series (window split by an upgrade)", async () => {
      const result = await analyseCandidate(options(NAMESPACES.noise, REVISIONS.healthy));
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /Both the opencensus and the otel request metrics/);
    });
  });

  describe("override presets", () => {
    it("OTEL_RESOURCE_LABELS_PRESET reads resource attributes copied onto the series", async () => {
      const namespace = NAMESPACES.otelResourceLabels;
      // No target_info there: the default otel preset finds nothing, the override does.
      const detected = await analyseCandidate(options(namespace, REVISIONS.healthy));
      assertVerdict(detected, "inconclusive");
      const result = await analyseCandidate(
        options(namespace, REVISIONS.healthy, { preset: OTEL_RESOURCE_LABELS_PRESET }),
      );
      assertVerdict(result, "pass");
      assert.equal(result.preset, "otel-resource-labels");
      near(result.requests, EXPECTED.otel.healthy.requests, EXACT, "requests");
      near(result.successRate, EXPECTED.otel.healthy.successRate, EXACT, "successRate");
      near(result.p99Ms, EXPECTED.otel.healthy.p99Ms, P99_TOLERANCE_MS, "p99Ms");
    });

    it("buildPreset with other label names (as after relabeling) and 4xx as failures", async () => {
      // A preset of one's own: OpenCensus series selected by the scrape's instance label, with
      // any 4xx or 5xx counted as failure. The healthy revision has only 200s and 503s.
      const preset = buildPreset({
        name: "custom",
        requestCounter: "revision_app_request_count",
        latencyBuckets: "revision_app_request_latencies_bucket",
        msPerLatencyUnit: 1,
        revisionMatchers: 'namespace_name="{namespace}",pod_name=~"{revision}-deployment-.*"',
        serverErrorMatcher: 'response_code=~"[45].."',
      });
      const result = await analyseCandidate(
        options(NAMESPACES.opencensus, REVISIONS.healthy, { preset }),
      );
      assertVerdict(result, "pass");
      assert.equal(result.preset, "custom");
      near(result.requests, EXPECTED.opencensus.healthy.requests, EXACT, "requests");
      near(result.successRate, 99.5, EXACT, "successRate");
    });

    it("reads NaN, +Inf and negatives from Prometheus and never judges on them", async () => {
      const constant = (requests: string, errors: string, p99: string): MetricsPreset => ({
        name: "constants",
        seriesQuery: "vector(1)",
        requestsQuery: `vector(${requests})`,
        serverErrorsQuery: `vector(${errors})`,
        p99Query: `vector(${p99})`,
        msPerLatencyUnit: 1,
      });
      const run = (preset: MetricsPreset) =>
        analyseCandidate(options(NAMESPACES.opencensus, REVISIONS.healthy, { preset }));

      const infinite = await run(constant("1000", "0", "+Inf"));
      assertVerdict(infinite, "inconclusive");
      assert.equal(infinite.p99Ms, Infinity);
      assert.match(infinite.reason, /p99 latency .* is Infinity, not a latency/);

      const nan = await run(constant("1000", "0", "NaN"));
      assertVerdict(nan, "inconclusive");
      assert.ok(Number.isNaN(nan.p99Ms));

      const nanRequests = await run(constant("NaN", "0", "10"));
      assertVerdict(nanRequests, "inconclusive");
      assert.match(nanRequests.reason, /request count .* is NaN/);

      // Too many 5xx beside a latency that cannot be real: the data is broken, no verdict
      // (issue 15, fault 6; it used to fail).
      const broken = await run(constant("1000", "50", "NaN"));
      assertVerdict(broken, "inconclusive");
      near(broken.successRate, 95, EXACT, "successRate");
      assert.match(broken.reason, /p99 latency .* is NaN/);

      // A negative p99 is below every maximum: it used to pass.
      const negative = await run(constant("1000", "0", "-5"));
      assertVerdict(negative, "inconclusive");
      assert.match(negative.reason, /p99 latency .* is -5 ms, not a latency/);

      const fine = await run(constant("1000", "0", "12.5"));
      assertVerdict(fine, "pass");
      near(fine.p99Ms, 12.5, EXACT, "p99Ms");
    });

    it("is inconclusive when Prometheus rejects a query, with its message", async () => {
      const broken: MetricsPreset = { ...OTEL_PRESET, name: "broken", p99Query: "sum(" };
      const result = await analyseCandidate(
        options(NAMESPACES.otel, REVISIONS.healthy, { preset: broken }),
      );
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /Prometheus answered HTTP 400 bad_data: .*parse error/);
    });

    it("is inconclusive when a query returns several series", async () => {
      const several: MetricsPreset = {
        ...OTEL_PRESET,
        name: "several",
        requestsQuery: "kn_serving_invocation_duration_seconds_count",
      };
      const result = await analyseCandidate(
        options(NAMESPACES.otel, REVISIONS.healthy, { preset: several }),
      );
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /returned \d+ series instead of one/);
    });
  });

  describe("Prometheus out of reach", () => {
    let fake: FakeServer | undefined;
    afterEach(async () => {
      await fake?.stop();
      fake = undefined;
    });

    it("is inconclusive when nothing listens on the port", async () => {
      const port = await freePort();
      const result = await analyseCandidate({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy),
        prometheusUrl: `http://127.0.0.1:${port}`,
      });
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /could not be reached .*ECONNREFUSED/);
    });

    it("is inconclusive when the answer is not Prometheus JSON", async () => {
      fake = new FakeServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<html>login</html>");
      });
      const url = await fake.start();
      const result = await analyseCandidate({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy, { metrics: "opencensus" }),
        prometheusUrl: `${url}/prometheus`,
      });
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /answered HTTP 200 with no JSON: <html>login/);
      // A path prefix (Prometheus behind a proxy) is kept in front of the API path.
      assert.equal(fake.requests[0].path, "/prometheus/api/v1/query");
      assert.equal(fake.requests[0].method, "POST");
      const form = new URLSearchParams(fake.requests[0].body);
      assert.equal(form.get("time"), String(AT.getTime() / 1000));
    });

    it("is inconclusive on status error JSON and on HTTP 503", async () => {
      fake = new FakeServer((_req, res) =>
        sendJson(res, 503, { status: "error", errorType: "unavailable", error: "shutting down" }),
      );
      const url = await fake.start();
      const result = await analyseCandidate({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy),
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
      const result = await analyseCandidate({
        ...options(NAMESPACES.opencensus, REVISIONS.healthy, { timeoutMs: 300 }),
        prometheusUrl: url,
      });
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, /no answer within 300 ms/);
      assert.ok(Date.now() - started < 3_000, "the timeout bounds the analysis");
    });
  });

  it("evaluates at the current time when `at` is unset", async () => {
    const before = Date.now();
    const { at: _unused, ...rest } = options(NAMESPACES.opencensus, REVISIONS.healthy);
    void _unused;
    const result = await analyseCandidate(rest);
    // The fixture lies in 2024: nothing now.
    assertVerdict(result, "inconclusive");
    const when = /ending (\S+?Z)/.exec(result.reason);
    assert.ok(when, result.reason);
    assert.ok(Date.parse(when[1]) >= before - 1000 && Date.parse(when[1]) <= Date.now() + 1000);
  });
});

describe("analyseCandidate options", () => {
  const valid: AnalysisOptions = {
    prometheusUrl: "http://127.0.0.1:9",
    namespace: "shop",
    revision: "shop-1a2b3c4",
    window: "5m",
    minSuccessRate: 99,
    maxP99Ms: 300,
    minRequests: 100,
  };

  const cases: Array<[string, Partial<Record<keyof AnalysisOptions, unknown>>, RegExp]> = [
    ["a URL that is not http", { prometheusUrl: "ftp://prom" }, /prometheusUrl must be an http/],
    ["no URL", { prometheusUrl: "" }, /prometheusUrl must be an http\(s\) URL.*got ""/],
    ["a URL with a query", { prometheusUrl: "http://p/?x=1" }, /prometheusUrl must have no query/],
    [
      "an upper-case namespace",
      { namespace: "Shop" },
      /namespace must be a Kubernetes name.*"Shop"/,
    ],
    ["a revision with a quote", { revision: 'a"b' }, /revision must be a Kubernetes name/],
    ["a window in words", { window: "5 minutes" }, /window must be a PromQL duration.*"5 minutes"/],
    ["a zero window", { window: "0m" }, /window must be a PromQL duration above zero/],
    ["units out of order", { window: "30s1m" }, /window must be a PromQL duration/],
    ["a bare number window", { window: "300" }, /window must be a PromQL duration/],
    [
      "a success rate over 100",
      { minSuccessRate: 150 },
      /minSuccessRate must be a percentage from 0 to 100, got 150/,
    ],
    ["a negative success rate", { minSuccessRate: -1 }, /minSuccessRate must be a percentage/],
    ["a NaN success rate", { minSuccessRate: NaN }, /minSuccessRate must be a percentage/],
    [
      "a zero p99 limit",
      { maxP99Ms: 0 },
      /maxP99Ms must be a number of milliseconds above 0, got 0/,
    ],
    [
      "a fractional minRequests",
      { minRequests: 2.5 },
      /minRequests must be a whole number of at least 1, got 2.5/,
    ],
    ["zero minRequests", { minRequests: 0 }, /minRequests must be a whole number of at least 1/],
    ["an invalid date", { at: new Date("nope") }, /at must be a valid Date/],
    ["an unknown scheme", { metrics: "prom" }, /metrics must be one of opencensus, otel.*"prom"/],
    [
      "metrics with a preset",
      { metrics: "otel", preset: OTEL_PRESET },
      /metrics must be unset when preset is given/,
    ],
    [
      "a preset without queries",
      { preset: { ...OTEL_PRESET, p99Query: "" } },
      /preset.p99Query must be a non-empty PromQL string/,
    ],
    [
      "a preset without a unit",
      { preset: { ...OTEL_PRESET, msPerLatencyUnit: 0 } },
      /preset.msPerLatencyUnit must be a number above 0/,
    ],
    [
      "a zero timeout",
      { timeoutMs: 0 },
      /timeoutMs must be a whole number of milliseconds above 0/,
    ],
  ];
  for (const [what, change, message] of cases) {
    it(`throws for ${what}`, async () => {
      const opts = { ...valid, ...change } as AnalysisOptions;
      await assert.rejects(analyseCandidate(opts), message);
    });
  }

  it("parses PromQL durations as Prometheus does", () => {
    assert.equal(parsePromDuration("5m"), 300_000);
    assert.equal(parsePromDuration("1h30m"), 5_400_000);
    assert.equal(parsePromDuration("1d"), 86_400_000);
    assert.equal(parsePromDuration("250ms"), 250);
    assert.equal(parsePromDuration("1m1h"), undefined);
    assert.equal(parsePromDuration("5M"), undefined);
    assert.equal(parsePromDuration(""), undefined);
  });

  it("renders templates with escaped label values", () => {
    assert.equal(
      renderQuery('x{a="{namespace}",b="{revision}"}[{window}]', {
        namespace: 'n"s',
        revision: "r\\1",
        window: "1m",
      }),
      'x{a="n\\"s",b="r\\\\1"}[1m]',
    );
  });
});

// Issue 15, fault 6: a negative p99 from Prometheus counted as a pass. A stand-in Prometheus on
// 127.0.0.1 answers each query of a preset with a chosen sample, so every impossible value is
// tried without a real Prometheus (which cannot easily be made to return them all).
describe("analyseCandidate: values that cannot be real are inconclusive (stand-in Prometheus)", () => {
  const PRESET: MetricsPreset = {
    name: "stand-in",
    seriesQuery: "series",
    requestsQuery: "requests",
    serverErrorsQuery: "errors",
    p99Query: "p99",
    msPerLatencyUnit: 1,
  };
  let fake: FakeServer | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });

  /** One analysis where each query answers its sample (a Prometheus float as text). */
  const analyse = async (samples: {
    requests: string;
    errors: string;
    p99: string;
  }): Promise<AnalysisResult> => {
    fake = new FakeServer((req, res) => {
      const query = new URLSearchParams(req.body).get("query") ?? "";
      const value = (samples as Record<string, string>)[query];
      sendJson(res, 200, {
        status: "success",
        data: { resultType: "vector", result: [{ metric: {}, value: [1700000000, value] }] },
      });
    });
    const url = await fake.start();
    const result = await analyseCandidate({
      prometheusUrl: url,
      namespace: "hello",
      revision: "hello-5d6e7f8",
      window: "5m",
      at: new Date("2026-03-01T12:00:00Z"),
      minSuccessRate: 99,
      maxP99Ms: 500,
      minRequests: 50,
      preset: PRESET,
    });
    await fake.stop();
    fake = undefined;
    return result;
  };

  // [what, samples, what the reason must name]; each was a pass or a fail before the fix, or
  // must stay inconclusive.
  const IMPOSSIBLE: ReadonlyArray<
    [string, { requests: string; errors: string; p99: string }, RegExp]
  > = [
    ["a negative p99", { requests: "1000", errors: "0", p99: "-5" }, /p99 latency .* is -5 ms/],
    [
      "a p99 of -Inf",
      { requests: "1000", errors: "0", p99: "-Inf" },
      /p99 latency .* is -Infinity/,
    ],
    ["a p99 of +Inf", { requests: "1000", errors: "0", p99: "+Inf" }, /p99 latency .* is Infinity/],
    ["a p99 of NaN", { requests: "1000", errors: "0", p99: "NaN" }, /p99 latency .* is NaN/],
    // Too many 5xx would fail; a latency that cannot be real makes the whole answer suspect.
    ["a negative p99 beside 5 % 5xx", { requests: "1000", errors: "50", p99: "-5" }, /p99 .* -5/],
    ["a NaN p99 beside 5 % 5xx", { requests: "1000", errors: "50", p99: "NaN" }, /p99 .* NaN/],
    [
      "a negative request count",
      { requests: "-1000", errors: "0", p99: "12" },
      /request count .* is -1000/,
    ],
    ["a NaN request count", { requests: "NaN", errors: "0", p99: "12" }, /request count .* is NaN/],
    [
      "an infinite request count",
      { requests: "+Inf", errors: "0", p99: "12" },
      /request count .* is Infinity/,
    ],
    ["a negative 5xx count", { requests: "1000", errors: "-10", p99: "12" }, /5xx count .* is -10/],
    ["a NaN 5xx count", { requests: "1000", errors: "NaN", p99: "12" }, /5xx count .* is NaN/],
    // More 5xx than requests: an error rate above 1, a success rate below 0.
    [
      "more 5xx than requests",
      { requests: "1000", errors: "1500", p99: "12" },
      /5xx count .* is 1500 out of 1000/,
    ],
  ];
  for (const [what, samples, named] of IMPOSSIBLE) {
    it(`is inconclusive for ${what}, naming the metric and the value`, async () => {
      const result = await analyse(samples);
      assertVerdict(result, "inconclusive");
      assert.match(result.reason, named);
    });
  }

  it("still passes and fails on real values (0 ms p99 included)", async () => {
    assertVerdict(await analyse({ requests: "1000", errors: "0", p99: "0" }), "pass");
    assertVerdict(await analyse({ requests: "1000", errors: "0", p99: "12.5" }), "pass");
    assertVerdict(await analyse({ requests: "1000", errors: "50", p99: "12.5" }), "fail");
    assertVerdict(await analyse({ requests: "1000", errors: "0", p99: "800" }), "fail");
  });
});

describe("the rollout never acts on values that cannot be real, whatever the analysis", () => {
  it("lists them: negative or non-finite counts and latencies, rates outside 0..100 %", () => {
    assert.deepEqual(impossibleValues({ verdict: "pass", reason: "", requests: 10, p99Ms: 0 }), []);
    assert.deepEqual(
      impossibleValues({
        verdict: "pass",
        reason: "",
        requests: -1,
        successRate: 101,
        p99Ms: Number.NaN,
      }),
      [
        "requests -1 (a count must be finite, 0 or more)",
        "successRate 101 (a percentage must be from 0 to 100)",
        "p99Ms NaN (a latency must be finite, 0 ms or more)",
      ],
    );
  });

  it("a pass with a negative p99 holds as inconclusive, then rolls back", async () => {
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
      steps: [5],
      intervalMs: 1_000,
      maxInconclusive: 1,
      sleep: async () => undefined,
      analyse: async () => ({ verdict: "pass", reason: "custom", requests: 900, p99Ms: -5 }),
    });
    assert.equal(report.status, "rolled-back");
    assert.deepEqual(
      report.analyses.map((a) => a.result.verdict),
      ["inconclusive", "inconclusive"],
    );
    assert.match(report.analyses[0].result.reason, /cannot be real: p99Ms -5/);
    assert.equal(driver.config["canary-release:canaryPercent"], "0");
  });
});
