// The record of a rollout (JSON) and its page (HTML): per step the percent, the verdict and the
// reason, and a plot per metric of the candidate against the stable revision, one point per
// analysed step. The page is one self-contained file: inline CSS and SVG, no script, no network,
// so it opens from a file, an artifact store or an e-mail attachment alike.
import * as fs from "fs";
import * as path from "path";
import { isRecord } from "../common/json";
import type { MetricVerdict } from "./analysisTypes";
import type { Metric, MetricSet } from "./metricSet";
import { readTextOrWhy } from "./project";
import type { AnalysisRecord, RolloutReport } from "./rollout";

export const REPORT_FORMAT = "canary-release/rollout-report@1";

/** How the analyses were made, for the record. */
export interface AnalysisSettings {
  readonly prometheusUrl: string;
  readonly namespace: string;
  readonly window: string;
  readonly sampleInterval: string;
  readonly significance: number;
  readonly minRequests: number;
  /** The metrics judged by (undefined when the rollout stopped before its preflight). */
  readonly metricSet?: MetricSet;
}

export interface RolloutRecord extends RolloutReport {
  readonly format: typeof REPORT_FORMAT;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly analysis: AnalysisSettings;
}

export function rolloutRecord(
  report: RolloutReport,
  analysis: AnalysisSettings,
  times: { readonly startedAt: Date; readonly finishedAt: Date },
): RolloutRecord {
  return {
    format: REPORT_FORMAT,
    ...report,
    startedAt: times.startedAt.toISOString(),
    finishedAt: times.finishedAt.toISOString(),
    analysis,
  };
}

/** Reads a record written by writeRolloutReport; throws an Error naming the file and the problem. */
export function readRolloutRecord(file: string): RolloutRecord {
  const read = readTextOrWhy(file);
  if ("why" in read) throw new Error(`${file} ${read.why}`);
  let json: unknown;
  try {
    json = JSON.parse(read.text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(json) || json.format !== REPORT_FORMAT) {
    const format = isRecord(json) ? JSON.stringify(json.format) : "none";
    throw new Error(
      `${file} is not a rollout report: format ${format}, expected "${REPORT_FORMAT}" ` +
        `(written by \`canary rollout --report <dir>\`)`,
    );
  }
  const problem = recordProblem(json);
  if (problem !== undefined) throw new Error(`${file}: ${problem}`);
  return json as unknown as RolloutRecord;
}

const STATUSES = ["completed", "rolled-back", "interrupted", "failed"];
const VERDICTS = ["pass", "fail", "inconclusive"];

/** The first field of a record that the page could not show, as `field: what it must be`. */
function recordProblem(json: Record<string, unknown>): string | undefined {
  const text = (v: unknown) => typeof v === "string";
  const number = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  const optionalNumber = (v: unknown) => v === undefined || number(v);
  const checks: Array<[string, boolean, string]> = [
    ["stack", text(json.stack), "a text"],
    ["candidate", text(json.candidate), "a text"],
    ["stable", text(json.stable), "a text"],
    ["status", STATUSES.includes(json.status as string), `one of ${STATUSES.join(", ")}`],
    ["startedAt", text(json.startedAt), "a time"],
    ["finishedAt", text(json.finishedAt), "a time"],
    ["startPercent", number(json.startPercent), "a number"],
    ["deployedPercent", number(json.deployedPercent), "a number"],
    ["steps", Array.isArray(json.steps) && json.steps.every(number), "a list of numbers"],
    ["analysis", isRecord(json.analysis), "an object"],
    ["analyses", Array.isArray(json.analyses), "a list"],
  ];
  for (const [field, ok, what] of checks) if (!ok) return `${field} must be ${what}`;
  const analysis = json.analysis as Record<string, unknown>;
  for (const field of ["prometheusUrl", "namespace", "window", "sampleInterval"]) {
    if (!text(analysis[field])) return `analysis.${field} must be a text`;
  }
  for (const field of ["significance", "minRequests"]) {
    if (!number(analysis[field])) return `analysis.${field} must be a number`;
  }
  for (const [i, entry] of (json.analyses as unknown[]).entries()) {
    const at = `analyses[${i}]`;
    if (!isRecord(entry) || !number(entry.percent) || !number(entry.attempt) || !text(entry.at)) {
      return `${at} must have a percent, an attempt and a time`;
    }
    const result = entry.result;
    if (!isRecord(result) || !VERDICTS.includes(result.verdict as string) || !text(result.reason)) {
      return `${at}.result must have a verdict (${VERDICTS.join(", ")}) and a reason`;
    }
    const metrics = result.metrics ?? [];
    if (!Array.isArray(metrics)) return `${at}.result.metrics must be a list`;
    for (const [j, metric] of metrics.entries()) {
      if (
        !isRecord(metric) ||
        !text(metric.name) ||
        !optionalNumber(metric.candidate) ||
        !optionalNumber(metric.stable)
      ) {
        return `${at}.result.metrics[${j}] must have a name and numbers for candidate and stable`;
      }
    }
  }
  return undefined;
}

/** The file names of a record: rollout-<stack>-<finish time>.json and .html. */
export function reportBaseName(record: RolloutRecord): string {
  const time = record.finishedAt.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  // A fully qualified stack (org/project/prod) is one file, not folders.
  const stack = record.stack.replace(/[^A-Za-z0-9._-]+/g, "_");
  return `rollout-${stack}-${time}`;
}

/** Writes the JSON and the HTML page into `dir` (made when missing); returns both paths. */
export function writeRolloutReport(
  dir: string,
  record: RolloutRecord,
): { readonly json: string; readonly html: string } {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, reportBaseName(record));
  const json = `${base}.json`;
  const html = `${base}.html`;
  fs.writeFileSync(json, `${JSON.stringify(record, null, 2)}\n`);
  fs.writeFileSync(html, renderReportHtml(record));
  return { json, html };
}

// ---------------------------------------------------------------------------------------------
// The page

const escapeHtml = (text: string): string =>
  text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");

/** Up to 4 significant digits: 99.5, 76, 0.3333. */
const num = (value: number): string => String(Number(value.toPrecision(4)));

/** One analysed step: the analysis that decided it (its last). */
export interface StepPoint {
  /** 1-based step number in the plan. */
  readonly step: number;
  readonly percent: number;
  readonly at: string;
  readonly attempts: number;
  readonly verdict: string;
  readonly reason: string;
  readonly metrics: readonly MetricVerdict[];
}

/** The deciding analysis of each analysed step, in order. */
export function stepPoints(record: RolloutRecord): StepPoint[] {
  const points: StepPoint[] = [];
  record.steps.forEach((percent, index) => {
    const analyses = record.analyses.filter((a: AnalysisRecord) => a.percent === percent);
    const last = analyses[analyses.length - 1];
    if (last === undefined) return;
    points.push({
      step: index + 1,
      percent,
      at: last.at,
      attempts: analyses.length,
      verdict: last.result.verdict,
      reason: last.result.reason,
      metrics: last.result.metrics ?? [],
    });
  });
  return points;
}

/** Metric names to plot: the set's order, then any other name the analyses reported. */
function plottedMetrics(record: RolloutRecord, points: readonly StepPoint[]): string[] {
  const names = (record.analysis.metricSet?.metrics ?? []).map((m: Metric) => m.name);
  for (const point of points) {
    for (const metric of point.metrics) if (!names.includes(metric.name)) names.push(metric.name);
  }
  return names;
}

function unitOf(record: RolloutRecord, name: string, points: readonly StepPoint[]): string {
  const metric = record.analysis.metricSet?.metrics.find((m) => m.name === name);
  if (metric?.type === "proportion") return "%";
  if (metric?.type === "value") return metric.unit ?? "";
  const reported = points.flatMap((p) => p.metrics).find((m) => m.name === name);
  return reported?.type === "proportion" ? "%" : "";
}

/** Round tick values covering [low, high]. */
function ticks(low: number, high: number, count = 5): number[] {
  const span = high - low;
  const rough = span / (count - 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= rough) ?? rough;
  const first = Math.ceil(low / step - 1e-9) * step;
  const values: number[] = [];
  for (let v = first; v <= high + step * 1e-9; v += step) values.push(Number(v.toPrecision(12)));
  return values;
}

const WIDTH = 640;
const HEIGHT = 260;
const AREA = { left: 64, top: 28, right: WIDTH - 16, bottom: HEIGHT - 48 };
const SERIES = [
  { key: "candidate", label: "candidate", color: "#c2410c" },
  { key: "stable", label: "stable", color: "#1d4ed8" },
] as const;

/** One metric's plot: candidate and stable over the analysed steps. */
function plot(name: string, unit: string, points: readonly StepPoint[]): string {
  const values = points.flatMap((p) => {
    const m = p.metrics.find((metric) => metric.name === name);
    return [m?.candidate, m?.stable].filter(
      (v): v is number => typeof v === "number" && Number.isFinite(v),
    );
  });
  const title = `${name}${unit !== "" ? ` (${unit})` : ""}`;
  if (values.length === 0) {
    return `<section class="plot" data-metric="${escapeHtml(name)}"><h2>${escapeHtml(title)}</h2><p class="empty">No values to plot: no analysis measured this metric.</p></section>`;
  }
  let low = Math.min(...values);
  let high = Math.max(...values);
  const pad = high > low ? (high - low) * 0.15 : Math.max(Math.abs(high) * 0.05, 1);
  low -= pad;
  high += pad;
  if (unit === "%") high = Math.min(high, 100);
  if (Math.min(...values) >= 0) low = Math.max(low, 0);
  const yTicks = ticks(low, high);
  low = Math.min(low, yTicks[0]);
  high = Math.max(high, yTicks[yTicks.length - 1]);
  const width = AREA.right - AREA.left;
  const height = AREA.bottom - AREA.top;
  const x = (index: number): number =>
    points.length === 1
      ? AREA.left + width / 2
      : AREA.left + (width * (index + 0.5)) / points.length;
  const y = (value: number): number => AREA.bottom - ((value - low) / (high - low)) * height;
  const parts: string[] = [];
  parts.push(
    `<rect class="plot-area" x="${AREA.left}" y="${AREA.top}" width="${width}" height="${height}" fill="#fff" stroke="#94a3b8"/>`,
  );
  for (const tick of yTicks) {
    const ty = y(tick).toFixed(1);
    parts.push(
      `<line x1="${AREA.left}" x2="${AREA.right}" y1="${ty}" y2="${ty}" stroke="#e2e8f0"/>` +
        `<text x="${AREA.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${num(tick)}</text>`,
    );
  }
  points.forEach((p, i) => {
    const tx = x(i).toFixed(1);
    parts.push(
      `<text x="${tx}" y="${AREA.bottom + 16}" text-anchor="middle">step ${p.step}: ${p.percent} %</text>` +
        `<text class="time" x="${tx}" y="${AREA.bottom + 32}" text-anchor="middle">${escapeHtml(p.at.slice(11, 19))}Z</text>`,
    );
  });
  for (const series of SERIES) {
    // A line joins neighbouring steps only: a step without a value leaves a gap, not a bridge.
    const runs: string[][] = [[]];
    const circles: string[] = [];
    points.forEach((p, i) => {
      const value = p.metrics.find((m) => m.name === name)?.[series.key];
      if (typeof value !== "number" || !Number.isFinite(value)) {
        runs.push([]);
        return;
      }
      const cx = x(i).toFixed(1);
      const cy = y(value).toFixed(1);
      runs[runs.length - 1].push(`${cx},${cy}`);
      circles.push(
        `<circle class="point ${series.key}" data-series="${series.key}" data-step="${p.step}" ` +
          `data-value="${escapeHtml(String(value))}" cx="${cx}" cy="${cy}" r="4" fill="${series.color}">` +
          `<title>${series.label} at ${p.percent} %: ${num(value)}${unit !== "" ? ` ${escapeHtml(unit)}` : ""}</title></circle>`,
      );
    });
    for (const run of runs.filter((r) => r.length > 1)) {
      parts.push(
        `<polyline class="line ${series.key}" points="${run.join(" ")}" fill="none" stroke="${series.color}" stroke-width="2"/>`,
      );
    }
    parts.push(...circles);
  }
  const legend = SERIES.map(
    (s, i) =>
      `<g transform="translate(${AREA.left + i * 110}, ${AREA.top - 10})"><rect width="10" height="10" y="-8" fill="${s.color}"/><text x="14" dominant-baseline="middle" y="-3">${s.label}</text></g>`,
  ).join("");
  return (
    `<section class="plot" data-metric="${escapeHtml(name)}"><h2>${escapeHtml(title)}</h2>` +
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" ` +
    `aria-label="${escapeHtml(`${title} of the candidate and the stable revision per step`)}">` +
    `${parts.join("")}${legend}</svg></section>`
  );
}

const STATUS_TEXT: Readonly<Record<RolloutReport["status"], string>> = {
  completed: "completed",
  "rolled-back": "rolled back",
  interrupted: "interrupted",
  failed: "failed",
};

/** The page of a record: a summary, a table of the steps, and a plot per metric. */
export function renderReportHtml(record: RolloutRecord): string {
  const points = stepPoints(record);
  const settings = record.analysis;
  const rows = record.steps.map((percent, index) => {
    const point = points.find((p) => p.step === index + 1);
    const verdict = point?.verdict ?? "not analysed";
    return (
      `<tr class="step verdict-${escapeHtml(verdict.replace(/ /g, "-"))}"><td>${index + 1}</td><td>${escapeHtml(String(percent))} %</td>` +
      `<td>${point?.attempts ?? 0}</td><td class="verdict">${escapeHtml(verdict)}</td>` +
      `<td class="reason">${escapeHtml(point?.reason ?? "")}</td></tr>`
    );
  });
  const outcome =
    `${STATUS_TEXT[record.status]}${record.promoted ? `, ${record.candidate} promoted to stable` : ""}; ` +
    `canaryPercent ${record.deployedPercent} deployed at the end`;
  const facts: Array<[string, string]> = [
    ["stack", record.stack],
    ["namespace", settings.namespace],
    ["candidate", record.candidate],
    ["stable", record.stable],
    ["steps", `${record.startPercent} % → ${record.steps.map((s) => `${s} %`).join(", ")}`],
    ["outcome", outcome],
    ["why", [record.reason, record.error].filter((t) => t !== undefined).join("\n") || "-"],
    ["started", record.startedAt],
    ["finished", record.finishedAt],
    [
      "analysis",
      `${settings.metricSet?.source ?? "no"} metrics from ${settings.prometheusUrl}, window ` +
        `${settings.window}, samples every ${settings.sampleInterval}, significance ` +
        `${settings.significance}, at least ${settings.minRequests} requests`,
    ],
  ];
  const plots = plottedMetrics(record, points).map((name) =>
    plot(name, unitOf(record, name, points), points),
  );
  const title = `Rollout of ${record.candidate} on stack ${record.stack}: ${STATUS_TEXT[record.status]}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; color: #0f172a; background: #f8fafc; margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 24px; }
h1 { font-size: 20px; margin: 0 0 16px; }
h2 { font-size: 15px; margin: 24px 0 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 16px; }
dl.facts dt { color: #475569; }
dl.facts dd { margin: 0; white-space: pre-wrap; }
table.steps { border-collapse: collapse; width: 100%; background: #fff; }
table.steps th, table.steps td { border: 1px solid #cbd5e1; padding: 6px 8px; text-align: left; vertical-align: top; }
td.reason { font-size: 12px; color: #334155; }
tr.verdict-pass td.verdict { color: #15803d; font-weight: 600; }
tr.verdict-fail td.verdict { color: #b91c1c; font-weight: 600; }
tr.verdict-inconclusive td.verdict { color: #a16207; font-weight: 600; }
svg { background: #f1f5f9; max-width: 100%; height: auto; font-size: 11px; }
svg text { fill: #334155; }
p.empty, p.caption { color: #64748b; }
</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<dl class="facts">${facts.map(([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value)}</dd>`).join("")}</dl>
<h2>Steps</h2>
<table class="steps"><thead><tr><th>step</th><th>percent</th><th>analyses</th><th>verdict</th><th>reason (of the last analysis)</th></tr></thead>
<tbody>${rows.join("")}</tbody></table>
<p class="caption">Each point is a revision's value over the window of its step's last analysis.
The comparison of a latency tests the window's per-interval samples, not these points alone: the
reasons above say what it found.</p>
${plots.join("\n")}
</main>
</body>
</html>
`;
}
