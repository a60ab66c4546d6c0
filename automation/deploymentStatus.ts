// What a canary's GitHub Deployment says at each point: the state and the one-line description
// GitHub shows beside the commit and the environment. Pure: githubDeployments.ts sends these,
// the canary command decides when.
import type { AnalysisResult, MetricVerdict } from "./analysisTypes";
import { EXIT_CHANGED } from "./exitCodes";
import type { RolloutEvent, RolloutReport } from "./rollout";

/** The states a canary's deployment goes through (GitHub has `error`, `queued`, `pending` too). */
export type DeploymentState = "in_progress" | "success" | "failure" | "inactive";

/** One status of a deployment, as the canary command posts it. */
export interface DeploymentStatusUpdate {
  readonly state: DeploymentState;
  /** At most DESCRIPTION_LIMIT characters. */
  readonly description: string;
  /** Where people can open the deployed revision; omitted when it is not reachable. */
  readonly environmentUrl?: string;
  /** Where the canary's record is (the rollout report's page). */
  readonly logUrl?: string;
}

/** GitHub refuses a longer description (422). */
export const DESCRIPTION_LIMIT = 140;

const SEPARATOR = " · ";

/**
 * Parts joined with ` · `, whole parts only while they fit in DESCRIPTION_LIMIT; a first part
 * longer than that is cut with `…`. The first parts are the ones that matter (the percent).
 */
export function fitDescription(parts: readonly string[]): string {
  let text = "";
  for (const part of parts.filter((p) => p !== "")) {
    const next = text === "" ? part : `${text}${SEPARATOR}${part}`;
    if (next.length <= DESCRIPTION_LIMIT) {
      text = next;
    } else if (text === "") {
      text = `${part.slice(0, DESCRIPTION_LIMIT - 1)}…`;
    } else {
      break;
    }
  }
  return text;
}

/** Up to 4 significant digits: 99.85, 120, 0.3333. */
const num = (value: number): string => String(Number(value.toPrecision(4)));

/**
 * One metric as `success-rate 99.8 % vs stable 99.9 %` or `p99-latency 120 ms vs stable 110 ms`;
 * undefined when the analysis had no number for the candidate.
 */
export function metricFigure(
  metric: MetricVerdict,
  units: Readonly<Record<string, string>>,
): string | undefined {
  if (metric.candidate === undefined) return undefined;
  const unit =
    metric.type === "proportion" ? " %" : units[metric.name] ? ` ${units[metric.name]}` : "";
  const stable = metric.stable === undefined ? "" : ` vs stable ${num(metric.stable)}${unit}`;
  return `${metric.name} ${num(metric.candidate)}${unit}${stable}`;
}

/** The key figures of an analysis: each metric's numbers, failing metrics first. */
export function analysisFigures(
  result: AnalysisResult,
  units: Readonly<Record<string, string>> = {},
): string[] {
  const metrics = [...(result.metrics ?? [])].sort(
    (a, b) => Number(b.verdict === "fail") - Number(a.verdict === "fail"),
  );
  return metrics.flatMap((metric) => metricFigure(metric, units) ?? []);
}

/**
 * A URL a person can open from GitHub: not a cluster-local one (`….svc.cluster.local`, the
 * default for the candidate's tag, see publicTagUrls), and http(s) only.
 */
export function reachableUrl(url: unknown): string | undefined {
  if (typeof url !== "string") return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  return parsed.hostname.endsWith(".cluster.local") ? undefined : url;
}

/** The URLs a status may carry: the candidate's tag URL, the production URL. */
export interface DeploymentUrls {
  /** The candidate's tag URL (the `urls.candidate` output), where reachable. */
  readonly candidate?: string;
  /** The production URL (the `url` output), where reachable: the promoted revision's. */
  readonly production?: string;
}

const percentText = (percent: number): string => `${percent} %`;

/** The status of a single canary command that changed traffic. */
export type CommandChange =
  | { readonly kind: "start"; readonly percent: 0 }
  | { readonly kind: "step"; readonly percent: number; readonly from?: number }
  | { readonly kind: "promote"; readonly from?: number }
  | { readonly kind: "rollback"; readonly from?: number };

export function statusForCommand(
  change: CommandChange,
  urls: DeploymentUrls,
): DeploymentStatusUpdate {
  const from = (value: number | undefined): string =>
    value === undefined ? "" : `from ${percentText(value)}`;
  switch (change.kind) {
    case "start":
      return withUrl(
        {
          state: "in_progress",
          description: fitDescription(["0 %", "candidate started, no traffic yet"]),
        },
        urls.candidate,
      );
    case "step":
      return withUrl(
        {
          state: "in_progress",
          description: fitDescription([
            percentText(change.percent),
            `canary step ${from(change.from)}`.trim(),
          ]),
        },
        urls.candidate,
      );
    case "promote":
      return withUrl(
        {
          state: "success",
          description: fitDescription(["100 %", `promoted to stable ${from(change.from)}`.trim()]),
        },
        urls.production,
      );
    case "rollback":
      return {
        state: "failure",
        description: fitDescription(["0 %", `rolled back ${from(change.from)}`.trim()]),
      };
  }
}

/** The status of the candidate that `canary start` replaced before it was promoted. */
export function statusForReplaced(replacedBy: string): DeploymentStatusUpdate {
  return {
    state: "inactive",
    description: fitDescription([`replaced by ${replacedBy} before promotion`]),
  };
}

/** In a rollout: an in_progress status when a step is deployed and after each analysis. */
export function statusForRolloutEvent(
  event: RolloutEvent,
  urls: DeploymentUrls,
  units: Readonly<Record<string, string>> = {},
): DeploymentStatusUpdate | undefined {
  switch (event.type) {
    case "deployed":
      return withUrl(
        {
          state: "in_progress",
          description: fitDescription([percentText(event.percent), "deployed, analysis to come"]),
        },
        urls.candidate,
      );
    case "analysis": {
      const { verdict } = event.result;
      // A failing verdict is the rollback's status, posted once traffic is back at 0 %.
      if (verdict === "fail") return undefined;
      const figures = analysisFigures(event.result, units);
      return withUrl(
        {
          state: "in_progress",
          description: fitDescription([
            percentText(event.percent),
            verdict === "pass" ? "passed" : `inconclusive (${event.attempt})`,
            ...(figures.length > 0 ? figures : [event.result.reason]),
          ]),
        },
        urls.candidate,
      );
    }
    default:
      return undefined;
  }
}

/** A rollout's last status, from its outcome; `logUrl` is its report's page when published. */
export function statusForRolloutReport(
  report: RolloutReport,
  urls: DeploymentUrls,
  units: Readonly<Record<string, string>> = {},
  logUrl?: string,
): DeploymentStatusUpdate | undefined {
  const last = report.analyses[report.analyses.length - 1];
  const figures = last === undefined ? [] : analysisFigures(last.result, units);
  const log = logUrl !== undefined ? { logUrl } : {};
  switch (report.status) {
    case "completed":
      if (report.promoted) {
        return withUrl(
          {
            state: "success",
            description: fitDescription(["100 %", "promoted to stable", ...figures]),
            ...log,
          },
          urls.production,
        );
      }
      // Every step passed, the candidate keeps its share until someone promotes it.
      return withUrl(
        {
          state: "in_progress",
          description: fitDescription([
            percentText(report.deployedPercent),
            "every step passed, not promoted yet",
            ...figures,
          ]),
          ...log,
        },
        urls.candidate,
      );
    case "rolled-back": {
      const at = last?.percent;
      return {
        state: "failure",
        description: fitDescription([
          "0 %",
          at === undefined ? "rolled back" : `rolled back at ${percentText(at)}`,
          ...(figures.length > 0 ? figures : [report.reason ?? ""]),
        ]),
        ...log,
      };
    }
    case "failed":
      // Another command changed the stack (a rollback by hand): its own status says so.
      if (report.failureExitCode === EXIT_CHANGED) return undefined;
      // An update failed: the candidate keeps the share of the last one that succeeded, so the
      // canary goes on by hand (a step, a rollback); it is not over.
      return withUrl(
        {
          state: "in_progress",
          description: fitDescription([
            percentText(report.deployedPercent),
            `rollout stopped: ${report.reason ?? "see the canary command's output"}`,
          ]),
          ...log,
        },
        urls.candidate,
      );
    case "interrupted":
      // Stopped before its first update: nothing happened that GitHub should show.
      if (report.updates.length === 0) return undefined;
      // Traffic stays where it was: the canary is still in progress, by hand from here.
      return withUrl(
        {
          state: "in_progress",
          description: fitDescription([
            percentText(report.deployedPercent),
            "rollout interrupted, traffic left as is",
          ]),
          ...log,
        },
        urls.candidate,
      );
  }
}

function withUrl(update: DeploymentStatusUpdate, url: string | undefined): DeploymentStatusUpdate {
  return url === undefined ? update : { ...update, environmentUrl: url };
}

/** Units of a metric set's value metrics by name (`ms`), for the figures. */
export function metricUnits(
  metrics: readonly { readonly name: string; readonly unit?: string }[],
): Readonly<Record<string, string>> {
  return Object.fromEntries(
    metrics.flatMap((metric) => (metric.unit !== undefined ? [[metric.name, metric.unit]] : [])),
  );
}
