// The rollout's record and page (automation/rolloutReport.ts) and `canary report`: what the page
// shows, that it needs no network and escapes every text, and that the JSON reads back. The page
// as a browser lays it out is checked in test/reportBrowser.test.ts.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main } from "../automation/cli";
import {
  readRolloutRecord,
  renderReportHtml,
  stepPoints,
  writeRolloutReport,
} from "../automation/rolloutReport";
import { EXIT_OK, EXIT_REFUSED } from "../automation/exitCodes";
import { noCluster } from "./support/standInCluster";
import { preflightOk } from "./support/analysisStubs";
import { sampleRecord } from "./support/rolloutRecords";

const made: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-report-"));
  made.push(dir);
  return dir;
}
after(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe("rollout reports", () => {
  it("keep the deciding analysis of each step, with the number of analyses", async () => {
    const record = await sampleRecord("rolled-back");
    assert.equal(record.status, "rolled-back");
    const points = stepPoints(record);
    assert.deepEqual(
      points.map((p) => [p.step, p.percent, p.attempts, p.verdict]),
      [
        [1, 5, 1, "pass"],
        [2, 20, 2, "fail"],
      ],
    );
  });

  it("render a page with the steps, their verdicts and reasons, and a plot per metric", async () => {
    const record = await sampleRecord("rolled-back");
    const html = renderReportHtml(record);
    assert.match(html, /<title>Rollout of hello-5d6e7f8 on stack prod: rolled back<\/title>/);
    assert.equal((html.match(/<tr class="step /g) ?? []).length, 3, "one row per step of the plan");
    assert.match(
      html,
      /<td>3<\/td><td>50 %<\/td><td>0<\/td><td class="verdict">not analysed<\/td>/,
    );
    assert.equal((html.match(/<section class="plot"/g) ?? []).length, 2);
    assert.match(html, /data-metric="success-rate"><h2>success-rate \(%\)<\/h2>/);
    assert.match(html, /data-metric="p99-latency"><h2>p99-latency \(ms\)<\/h2>/);
    // Two analysed steps: two points per series per plot.
    assert.equal((html.match(/<circle class="point candidate"/g) ?? []).length, 4);
    assert.equal((html.match(/<circle class="point stable"/g) ?? []).length, 4);
  });

  it("escape every text and load nothing from elsewhere", async () => {
    const html = renderReportHtml(await sampleRecord("rolled-back"));
    assert.ok(!html.includes("<script"), "no script element, even from a reason");
    assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &#39;more&#39;/);
    assert.doesNotMatch(html, /\b(src|href)=/, "no external resource");
    assert.doesNotMatch(
      html,
      /https?:\/\/(?!prometheus:9090)/,
      "no address but the Prometheus named",
    );
  });

  it("escape even numbers read from a changed record, forbid loads by policy, leave gaps as gaps", async () => {
    const record = await sampleRecord("completed");
    const changed = JSON.parse(JSON.stringify(record)) as typeof record;
    (changed.steps as unknown[])[0] = '5<img src="http://127.0.0.1:9/x.png">';
    let html = renderReportHtml(changed);
    assert.doesNotMatch(html, /<img/);
    assert.match(html, /5&lt;img src=&quot;http:\/\/127\.0\.0\.1:9\/x\.png&quot;&gt; %/);
    assert.match(
      html,
      /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/,
    );
    // The stable's p99 of step 2 missing: two points, no line bridging the gap.
    const gap = JSON.parse(JSON.stringify(record)) as typeof record;
    const metrics = gap.analyses[1].result.metrics as unknown as Array<{ stable?: number }>;
    delete metrics[1].stable;
    html = renderReportHtml(gap);
    const latency = html.slice(html.indexOf('data-metric="p99-latency"'));
    assert.equal((latency.match(/<circle class="point stable"/g) ?? []).length, 2);
    assert.equal((latency.match(/<polyline class="line stable"/g) ?? []).length, 0);
    assert.equal((latency.match(/<polyline class="line candidate"/g) ?? []).length, 1);
  });

  it("name files of a fully qualified stack without folders, and refuse records naming the field", async () => {
    const dir = tempDir();
    const record = { ...(await sampleRecord("completed")), stack: "acme/canary-release/prod" };
    const files = writeRolloutReport(dir, record);
    assert.equal(
      path.basename(files.json),
      "rollout-acme_canary-release_prod-20260301T121500Z.json",
    );
    const broken = JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
    delete broken.stable;
    const file = path.join(dir, "broken.json");
    fs.writeFileSync(file, JSON.stringify(broken));
    assert.throws(() => readRolloutRecord(file), /broken\.json: stable must be a text/);
    const noResult = JSON.parse(JSON.stringify(record)) as {
      analyses: Array<Record<string, unknown>>;
    };
    delete noResult.analyses[0].result;
    fs.writeFileSync(file, JSON.stringify(noResult));
    assert.throws(() => readRolloutRecord(file), /analyses\[0\]\.result must have a verdict/);
  });

  it("write JSON and HTML that read back, and refuse files that are not reports", async () => {
    const dir = tempDir();
    const record = await sampleRecord("completed");
    const files = writeRolloutReport(path.join(dir, "new"), record);
    assert.equal(path.basename(files.json), "rollout-prod-20260301T121500Z.json");
    assert.equal(path.basename(files.html), "rollout-prod-20260301T121500Z.html");
    assert.deepEqual(readRolloutRecord(files.json), JSON.parse(JSON.stringify(record)));
    const other = path.join(dir, "other.json");
    fs.writeFileSync(other, JSON.stringify({ status: "completed" }));
    assert.throws(
      () => readRolloutRecord(other),
      /other\.json is not a rollout report: format undefined/,
    );
    fs.writeFileSync(other, "{");
    assert.throws(() => readRolloutRecord(other), /other\.json is not JSON/);
    assert.throws(
      () => readRolloutRecord(path.join(dir, "none.json")),
      /none\.json cannot be read \(ENOENT\)/,
    );
  });

  it("`canary report FILE` renders the page again; a wrong file exits 2", async () => {
    const dir = tempDir();
    const record = await sampleRecord("completed");
    const files = writeRolloutReport(dir, record);
    fs.rmSync(files.html);
    let stdout = "";
    let stderr = "";
    const deps = {
      cwd: dir,
      stdout: (text: string) => (stdout += text),
      stderr: (text: string) => (stderr += text),
      openStack: async () => {
        throw new Error("report opens no stack");
      },
      analyse: async () => ({ verdict: "inconclusive" as const, reason: "unused" }),
      preflight: preflightOk,
      openCluster: noCluster,
      sleep: async () => undefined,
      now: () => new Date(),
    };
    assert.equal(await main(["report", path.basename(files.json)], deps), EXIT_OK, stderr);
    assert.equal(fs.readFileSync(files.html, "utf8"), renderReportHtml(record));
    assert.match(stdout, /report: .*rollout-prod-20260301T121500Z\.html/);
    const out = path.join(dir, "page.html");
    stdout = "";
    assert.equal(await main(["report", files.json, "--out", out, "--json"], deps), EXIT_OK);
    assert.deepEqual(JSON.parse(stdout), { ok: true, exitCode: 0, html: out });
    stdout = "";
    assert.equal(
      await main(["report", path.join(dir, "missing.json"), "--json"], deps),
      EXIT_REFUSED,
    );
    assert.match((JSON.parse(stdout) as { error: string }).error, /missing\.json cannot be read/);
  });
});
