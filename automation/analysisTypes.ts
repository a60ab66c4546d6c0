// The contract between the canary analysis (canaryAnalysis.ts) and the rollout that acts on it.

/** Which names Knative's queue-proxy exports its request metrics under. */
export type MetricsScheme = "opencensus" | "otel" | "otel-resource-labels";

/** One metric's part of a verdict (canaryAnalysis.ts). */
export interface MetricVerdict {
  readonly name: string;
  readonly type: "proportion" | "value";
  readonly verdict: "pass" | "fail" | "inconclusive";
  /** The candidate's number over the window: a percent for a proportion. */
  readonly candidate?: number;
  /** The stable revision's, over the same window. */
  readonly stable?: number;
  /** A proportion's totals (e.g. requests). */
  readonly candidateTotal?: number;
  readonly stableTotal?: number;
  /** One-sided p-values of the comparison: worse by more than the margin, and not. */
  readonly pWorse?: number;
  readonly pNotWorse?: number;
  /** A value comparison's per-interval samples with data, per side. */
  readonly samples?: { readonly candidate: number; readonly stable: number };
  readonly reason: string;
}

export interface AnalysisResult {
  readonly verdict: "pass" | "fail" | "inconclusive";
  /** The revision the candidate was compared with. */
  readonly stable?: string;
  /** Each metric's verdict and numbers. */
  readonly metrics?: readonly MetricVerdict[];
  /** Why: each metric's numbers against its threshold and the stable revision, or what was missing. */
  readonly reason: string;
}

/**
 * Numbers of a result that cannot be real, each as `name value`: a negative, NaN or infinite
 * value or total, a share outside 0..100 %. Empty when every number given is plausible. The rollout turns a pass or fail with any of them into inconclusive, whatever
 * analysis produced it (issue 15, fault 6).
 */
export function impossibleValues(result: AnalysisResult): string[] {
  const problems: string[] = [];
  const check = (name: string, value: number | undefined, max: number, rule: string): void => {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > max) {
      problems.push(`${name} ${String(value)} (${rule})`);
    }
  };
  for (const metric of result.metrics ?? []) {
    const max = metric.type === "proportion" ? 100 : Infinity;
    const rule =
      metric.type === "proportion"
        ? "a share must be from 0 to 100 %"
        : "a value metric must be finite, 0 or more";
    check(`${metric.name} (candidate)`, metric.candidate, max, rule);
    check(`${metric.name} (stable)`, metric.stable, max, rule);
    const count = "a count must be finite, 0 or more";
    check(`${metric.name} (candidate total)`, metric.candidateTotal, Infinity, count);
    check(`${metric.name} (stable total)`, metric.stableTotal, Infinity, count);
  }
  return problems;
}
