// Metrics files (automation/metricSet.ts): checked when loaded, every problem named by metric and
// field; the built-in Knative sets are of the same form as the examples users copy.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  builtInMetricSet,
  loadMetricsFile,
  MetricSetError,
  parseMetricSet,
} from "../automation/metricSet";
import { PROJECT_ROOT } from "../conformance/programRunner";

const SUCCESS = {
  name: "success-rate",
  type: "proportion",
  events: 'sum(increase(req{rev="{revision}",code!~"5.."}[{window}]))',
  total: 'sum(increase(req{rev="{revision}"}[{window}]))',
  direction: "higher",
  threshold: 99,
};
const LATENCY = {
  name: "p99",
  type: "value",
  query: 'histogram_quantile(0.99, sum by (le) (rate(lat_bucket{rev="{revision}"}[{window}])))',
  direction: "lower",
  compare: { margin: 20 },
};

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseMetricSet(raw, "test.yaml");
  } catch (error) {
    assert.ok(error instanceof MetricSetError, String(error));
    assert.match(error.message, /^metrics test\.yaml:\n {2}- /);
    return error.problems;
  }
  assert.fail("no problem found");
}

const madeDirs: string[] = [];
after(() => {
  for (const dir of madeDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function write(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-metric-set-"));
  madeDirs.push(dir);
  const file = path.join(dir, "metrics.yaml");
  fs.writeFileSync(file, text);
  return file;
}

describe("metrics files", () => {
  it("accepts a proportion and a value metric", () => {
    const set = parseMetricSet({ metrics: [SUCCESS, LATENCY] }, "test.yaml");
    assert.equal(set.source, "test.yaml");
    assert.deepEqual(
      set.metrics.map((m) => m.name),
      ["success-rate", "p99"],
    );
  });

  const cases: Array<[string, unknown, RegExp]> = [
    [
      "no metrics list",
      { metric: [] },
      /top level: unknown field "metric" \(did you mean metrics\?\)/,
    ],
    ["an empty list", { metrics: [] }, /metrics must be a list of at least one metric, got \[\]/],
    [
      "a metric that is not a mapping",
      { metrics: ["p99"] },
      /metrics\[0\] must be a mapping, got "p99"/,
    ],
    [
      "a bad name",
      { metrics: [{ ...LATENCY, name: "P 99" }] },
      /metric "P 99": name must be lowercase letters, digits and dashes/,
    ],
    [
      "an unknown type",
      { metrics: [{ ...LATENCY, type: "ratio" }] },
      /metric "p99": type must be proportion or value, got "ratio"/,
    ],
    [
      "a bad direction",
      { metrics: [{ ...LATENCY, direction: "down" }] },
      /metric "p99": direction must be lower or higher \(which is better\), got "down"/,
    ],
    [
      "a typo in a field",
      { metrics: [{ ...LATENCY, treshold: 5 }] },
      /metric "p99": unknown field "treshold" \(did you mean threshold\?\)/,
    ],
    [
      "a field of the other type",
      { metrics: [{ ...LATENCY, events: "x" }] },
      /metric "p99": unknown field "events"/,
    ],
    [
      "no query",
      { metrics: [{ ...LATENCY, query: undefined }] },
      /metric "p99": query must be a PromQL template \(a non-empty string\), got nothing/,
    ],
    [
      "an unknown placeholder",
      { metrics: [{ ...LATENCY, query: 'x{rev="{revison}"}' }] },
      /metric "p99": query has the unknown placeholder \{revison\}/,
    ],
    [
      "no {revision}",
      { metrics: [{ ...LATENCY, query: "sum(rate(x[{window}]))" }] },
      /metric "p99": query must select the revision with \{revision\}/,
    ],
    [
      "a proportion without {window}",
      { metrics: [{ ...SUCCESS, total: 'sum(req{rev="{revision}"})' }] },
      /metric "success-rate": total must count over the analysis window with \[\{window\}\]/,
    ],
    [
      "a proportion threshold above 100",
      { metrics: [{ ...SUCCESS, threshold: 101 }] },
      /metric "success-rate": threshold must be a percent, 0 to 100, got 101/,
    ],
    [
      "a threshold that is text",
      { metrics: [{ ...LATENCY, threshold: "500ms" }] },
      /metric "p99": threshold must be a number, 0 or more \(a value metric's values are\), got "500ms"/,
    ],
    [
      "a negative margin",
      { metrics: [{ ...LATENCY, compare: { margin: -1 } }] },
      /metric "p99": compare\.margin must be a percent of the stable value, 0 or more, got -1/,
    ],
    [
      "a compare without margin",
      { metrics: [{ ...LATENCY, compare: {} }] },
      /metric "p99": compare\.margin must be set: a percent of the stable value/,
    ],
    [
      "a typo inside compare",
      { metrics: [{ ...LATENCY, compare: { margni: 5 } }] },
      /metric "p99": compare: unknown field "margni" \(did you mean margin\?\)/,
    ],
    [
      "neither threshold nor compare",
      { metrics: [{ ...LATENCY, compare: undefined }] },
      /metric "p99": give a threshold, a compare \(with the stable revision\), or both/,
    ],
    [
      "a negative value threshold",
      { metrics: [{ ...LATENCY, threshold: -5 }] },
      /metric "p99": threshold must be a number, 0 or more/,
    ],
    [
      "a margin of 100 % or more where higher is better",
      { metrics: [{ ...LATENCY, direction: "higher", compare: { margin: 250 } }] },
      /metric "p99": compare\.margin must be a percent of the stable value, 0 or more and below 100 \(higher is better\), got 250/,
    ],
    [
      "a compared value without {window}",
      { metrics: [{ ...LATENCY, query: 'max(mem{rev="{revision}"})' }] },
      /metric "p99": query must count over the analysis window with \[\{window\}\]/,
    ],
    [
      "a sampleCount without its minimum",
      { metrics: [{ ...LATENCY, sampleCount: 'sum(increase(c{rev="{revision}"}[{window}]))' }] },
      /metric "p99": sampleCount and minSampleCount go together/,
    ],
    [
      "a minSampleCount of 0.5",
      {
        metrics: [
          {
            ...LATENCY,
            sampleCount: 'sum(increase(c{rev="{revision}"}[{window}]))',
            minSampleCount: 0.5,
          },
        ],
      },
      /metric "p99": minSampleCount must be a whole number of at least 1, got 0\.5/,
    ],
    [
      "minTotal 0",
      { metrics: [{ ...SUCCESS, minTotal: 0 }] },
      /metric "success-rate": minTotal must be a whole number of at least 1, got 0/,
    ],
    [
      "a name used twice",
      { metrics: [LATENCY, LATENCY] },
      /metric "p99": name used twice \(metrics\[0\] and metrics\[1\]\)/,
    ],
  ];
  for (const [what, raw, message] of cases) {
    it(`refuses ${what}, naming the metric and the field`, () => {
      const problems = problemsOf(JSON.parse(JSON.stringify(raw)));
      assert.ok(
        problems.some((p) => message.test(p)),
        `${message} in:\n${problems.join("\n")}`,
      );
    });
  }

  it("lists every problem at once", () => {
    const problems = problemsOf({
      metrics: [
        { ...LATENCY, direction: "up", compare: { margin: -2 } },
        { ...SUCCESS, treshold: 1 },
      ],
    });
    assert.equal(problems.length, 3, problems.join("\n"));
  });

  it("loads YAML files, and reports syntax errors and missing files with the path", () => {
    const file = write(
      [
        "metrics:",
        "  - name: p99",
        "    type: value",
        `    query: '${LATENCY.query}'`,
        "    direction: lower",
        "    threshold: 500",
      ].join("\n"),
    );
    assert.equal(loadMetricsFile(file).metrics[0].name, "p99");
    const broken = write("metrics:\n  - name: [p99\n");
    assert.throws(
      () => loadMetricsFile(broken),
      (error: Error) => error.message.startsWith(`metrics ${broken}:\n  - YAML: `),
    );
    const twice = write("metrics: []\nmetrics: []\n");
    assert.throws(() => loadMetricsFile(twice), /YAML: Map keys must be unique/);
    assert.throws(
      () => loadMetricsFile(path.join(os.tmpdir(), "no-such-metrics.yaml")),
      /no-such-metrics\.yaml:\n {2}- cannot be read \(ENOENT\)/,
    );
  });

  for (const scheme of ["opencensus", "otel"] as const) {
    it(`examples/metrics/knative-${scheme}.yaml is the built-in ${scheme} set, in the same form`, () => {
      const file = path.join(PROJECT_ROOT, "examples", "metrics", `knative-${scheme}.yaml`);
      const builtIn = builtInMetricSet(scheme, {
        minSuccessRate: 99,
        maxP99Ms: 500,
        successMargin: 0.5,
        latencyMargin: 20,
      });
      assert.deepEqual(loadMetricsFile(file).metrics, builtIn.metrics);
      // And every built-in set passes the checks a file gets.
      parseMetricSet(JSON.parse(JSON.stringify({ metrics: builtIn.metrics })), "built-in");
    });
  }
});
