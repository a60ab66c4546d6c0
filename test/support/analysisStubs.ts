// A preflight that always finds everything in order, for tests of the command and the rollout
// that script the analysis itself: it returns the set a real preflight would use (the file's, or
// the built-in one of the chosen scheme, opencensus when none is chosen).
import type { PreflightOptions, PreflightResult } from "../../automation/canaryAnalysis";
import { builtInMetricSet } from "../../automation/metricSet";

export async function preflightOk(options: PreflightOptions): Promise<PreflightResult> {
  const metricSet =
    options.metricSet ?? builtInMetricSet(options.scheme ?? "opencensus", options.criteria ?? {});
  return { ok: true, metricSet, checked: metricSet.metrics.map((m) => m.name), warnings: [] };
}
