// Traffic split for the canary: the Knative spec.traffic a plan gives. The plan is judged once,
// by config.ts, before anything is registered; the Knative admission rules the table must pass
// are emulated at test time (conformance/knativeRules.ts).
//
// Pure module: no Pulumi, no I/O.

/** One entry of a Knative Route/Service spec.traffic (serving.knative.dev/v1 TrafficTarget). */
export interface TrafficTarget {
  readonly tag?: string;
  readonly revisionName?: string;
  readonly configurationName?: string;
  readonly latestRevision?: boolean;
  readonly percent?: number;
  readonly url?: string; // status-only in Knative: must not be set in spec
}

export interface TrafficPlan {
  readonly app: string; // name of the Knative Configuration and Route
  readonly stableRevision?: string;
  readonly candidateRevision?: string;
  readonly canaryPercent: number; // 0..100, the candidate's share
}

export const TAG_STABLE = "stable";
export const TAG_CANDIDATE = "candidate";
export const TAG_LATEST = "latest";

/**
 * The spec.traffic for a plan, which config.ts has judged (percent 0..100, a candidate only
 * beside a stable revision, canary traffic only with a candidate, names Knative accepts). The "latest" entry is always present (at 0% once a stable revision
 * exists) so the latest-revision tag URL can be used for smoke tests before any promotion.
 * Revision entries omit latestRevision: Knative's defaulting (TrafficTarget.SetDefaults) fills in
 * false for them, so spelling it out would add nothing.
 */
export function trafficFor(plan: TrafficPlan): TrafficTarget[] {
  const { app, stableRevision, candidateRevision, canaryPercent } = plan;

  const latest = (percent: number): TrafficTarget => ({
    tag: TAG_LATEST,
    configurationName: app,
    latestRevision: true,
    percent,
  });

  let traffic: TrafficTarget[];
  if (!given(stableRevision)) {
    traffic = [latest(100)];
  } else if (!given(candidateRevision)) {
    traffic = [{ tag: TAG_STABLE, revisionName: stableRevision, percent: 100 }, latest(0)];
  } else {
    traffic = [
      { tag: TAG_STABLE, revisionName: stableRevision, percent: 100 - canaryPercent },
      // Kept at 0% too: the candidate's tag URL must work before it takes live traffic.
      { tag: TAG_CANDIDATE, revisionName: candidateRevision, percent: canaryPercent },
      latest(0),
    ];
  }
  return traffic;
}

function given(value: string | undefined): value is string {
  return typeof value === "string" && value !== "";
}
