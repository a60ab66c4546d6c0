// npm run bench (second part): the revision tester as a real process on loopback, against the
// stand-in Kubernetes API and target app of its tests. Two figures, medians over RUNS runs:
// - events per second the tester answers, for update events of an already-tested revision:
//   (a) the event's copy shows the result, so it is ignored without an API request;
//   (b) the event's copy is stale (no result yet), so the tester reads the Revision first;
// - milliseconds from posting a Ready event to the result patch reaching the API, against a
//   target that answers at once and a Route that is Ready on its first read.
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { waitFor } from "../test/support/fakeHttp";
import {
  FakeKnativeApi,
  Json,
  postBinary,
  resourceEvent,
  TargetApp,
  TesterProcess,
} from "../test/support/revisionTesterHarness";

const RUNS = Number(process.env.TESTER_BENCH_RUNS ?? 7);
const EVENTS = Number(process.env.TESTER_BENCH_EVENTS ?? 2000);
const CONCURRENCY = 32;
const WARMUP_EVENTS = 500;
const TOKEN = "bench-token";

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Posts `count` update events, cycling through `revisions`, over CONCURRENCY keep-alive
 * connections; resolves to events per second.
 */
async function eventsPerSecond(url: string, revisions: Json[], count: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const events = revisions.map((revision) => resourceEvent("update", revision));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const event = { ...events[next % events.length], id: String(next) };
      const answer = await postBinary(url, event, agent);
      if (answer.status !== 202) throw new Error(`event answered ${answer.status}: ${answer.text}`);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return count / seconds;
}

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 5) {
    throw new Error(`TESTER_BENCH_RUNS must be a whole number of at least 5, got ${RUNS}`);
  }
  if (!Number.isInteger(EVENTS) || EVENTS < 100) {
    throw new Error(`TESTER_BENCH_EVENTS must be a whole number of at least 100, got ${EVENTS}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-tester-bench-"));
  fs.writeFileSync(path.join(dir, "token"), TOKEN);
  const kube = new FakeKnativeApi("apps");
  kube.validTokens = new Set([TOKEN]);
  kube.routeReadyAfterGets = 1;
  const target = new TargetApp();
  const [kubeUrl, targetUrl] = await Promise.all([kube.start(), target.server.start()]);
  kube.routeUrl = targetUrl;
  const tester = await TesterProcess.start({
    PORT: "0",
    LISTEN_HOST: "127.0.0.1",
    NAMESPACE: "apps",
    CONFIGURATION: "hello",
    KUBERNETES_API_URL: kubeUrl,
    KUBERNETES_TOKEN_FILE: path.join(dir, "token"),
    TEST_PATH: "/",
    POLL_INTERVAL_MS: "10",
    RESYNC_INTERVAL_SECONDS: "0",
    LOG_LEVEL: "info",
  });
  const url = `${tester.url}/`;

  try {
    // (a): one revision, tested already, as the event shows it. (b): revisions tested already,
    // the events' copies older than that; many of them, as concurrent events for one revision
    // are dropped as duplicates before the API is asked.
    const tested = kube.addRevision("hello-0000000", {
      labels: { "canary-release.dev/smoke-test": "passed" },
      annotations: { "canary-release.dev/smoke-test-result": "{}" },
    });
    const stale = Array.from({ length: 256 }, (_, i) => {
      const name = `hello-a${i.toString(16).padStart(6, "0")}`;
      const copy = kube.addRevision(name);
      kube.addRevision(name, { labels: { "canary-release.dev/smoke-test": "passed" } });
      return copy;
    });
    const throughput: Array<{ label: string; data: Json[]; runs: number[]; apiReads: number }> = [
      {
        label: "copy shows the result (no API request)",
        data: [tested],
        runs: [],
        apiReads: 0,
      },
      {
        label: "stale copies (one Revision read each)",
        data: stale,
        runs: [],
        apiReads: 0,
      },
    ];
    for (const c of throughput) await eventsPerSecond(url, c.data, WARMUP_EVENTS);
    for (let i = 0; i < RUNS; i++) {
      for (const c of throughput) {
        const before = kube.exchanges.length;
        c.runs.push(await eventsPerSecond(url, c.data, EVENTS));
        c.apiReads = (kube.exchanges.length - before) / EVENTS;
      }
    }

    // Ready event -> result recorded, each run a new revision.
    const latencies: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      const name = `hello-${(0x1000000 + i).toString(16).slice(1)}`;
      const revision = kube.addRevision(name);
      const start = performance.now();
      const answer = await postBinary(url, resourceEvent("add", revision));
      if (answer.status !== 202) throw new Error(`event answered ${answer.status}: ${answer.text}`);
      const isResult = (e: (typeof kube.exchanges)[number]) =>
        e.method === "PATCH" &&
        e.call === `/revisions/${name}` &&
        e.request.body.includes("labels");
      await waitFor(() => kube.exchanges.some(isResult), `the result of ${name}`);
      const recorded = kube.exchanges.find(isResult);
      if (recorded === undefined || !JSON.stringify(kube.revision(name)).includes('"passed"')) {
        throw new Error(`${name} was not recorded as passed`);
      }
      if (i >= 2) latencies.push(recorded.answeredAt - start); // two warm-up runs
    }

    const rows = [
      ...throughput.map((c) => [
        `events/s, update of a tested revision, ${c.label}`,
        median(c.runs).toFixed(0),
        Math.min(...c.runs).toFixed(0),
        Math.max(...c.runs).toFixed(0),
      ]),
      [
        "ms: Ready event -> result recorded (instant target)",
        median(latencies).toFixed(1),
        Math.min(...latencies).toFixed(1),
        Math.max(...latencies).toFixed(1),
      ],
    ];
    const header = ["revision tester on loopback", "median", "min", "max"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]): string =>
      `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(" | ")} |`;
    console.log(
      `\nRevision tester, ${RUNS} runs each: ${EVENTS} events per run over ${CONCURRENCY} ` +
        `keep-alive connections; latency over ${RUNS} new revisions`,
    );
    console.log(`(node ${process.version}, ${process.platform}/${process.arch})\n`);
    console.log(line(header));
    console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
    for (const row of rows) console.log(line(row));
    console.log(
      `\nAPI requests per event: ${throughput.map((c) => c.apiReads.toFixed(2)).join(" and ")}. ` +
        `The latency is 8 Kubernetes API requests and one request to the revision; in a ` +
        `cluster it is dominated by the Route becoming Ready (polled every POLL_INTERVAL_MS).`,
    );
  } finally {
    await tester.stop();
    await Promise.all([kube.stop(), target.server.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
