// What a Knative Revision says about itself and what the revision tester recorded on it: read by
// the candidate gate at preview and by the `canary` command (`revisions`, `status`), so both
// read a Revision the same way.
//
// Pure module: no Pulumi, no I/O.

/** A Knative condition, as found in `status.conditions` of a Revision. */
export interface KnativeCondition {
  readonly type: string;
  readonly status: "True" | "False" | "Unknown" | string;
  readonly reason?: string;
  readonly message?: string;
}

/** The part of a Knative Revision's status the gate reads. */
export interface RevisionStatus {
  readonly conditions?: readonly KnativeCondition[];
}

/** The part of a Revision's metadata the gate reads: the revision tester's record. */
export interface RevisionMetadata {
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * Label the revision tester sets on a Revision: `passed` or `failed` (the app's answer), or
 * `error` (the test could not run: the Kubernetes API or the tester failed; it is retested at the
 * tester's next resync, and the new result replaces it).
 */
export const SMOKE_TEST_LABEL = "canary-release.dev/smoke-test";
/** The values of SMOKE_TEST_LABEL (VERDICTS in functions/revision-tester/claim.js). */
export const SMOKE_TEST_VERDICTS = ["passed", "failed", "error"] as const;
/** Annotation with the tester's measurement: JSON {status, latencyMs, at, reason, url?}. */
export const SMOKE_TEST_RESULT_ANNOTATION = "canary-release.dev/smoke-test-result";

/** What the revision tester recorded on a revision, as the stack output `candidateSmokeTest`. */
export interface SmokeTestRecord {
  /** `error`: the test could not run and will be retried; the gate treats it as untested. */
  readonly state: "passed" | "failed" | "error" | "untested";
  /** The recorded measurement; null when there is none or it is not JSON. */
  readonly result: Readonly<Record<string, unknown>> | null;
}

export function smokeTestOf(metadata: RevisionMetadata | undefined): SmokeTestRecord {
  const label = metadata?.labels?.[SMOKE_TEST_LABEL];
  const state = label === "passed" || label === "failed" || label === "error" ? label : "untested";
  const annotation = metadata?.annotations?.[SMOKE_TEST_RESULT_ANNOTATION];
  let result: Record<string, unknown> | null = null;
  if (annotation !== undefined) {
    try {
      const parsed: unknown = JSON.parse(annotation);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        result = parsed as Record<string, unknown>;
      }
    } catch {
      // A hand-edited or foreign annotation: the label still decides, the detail is unknown.
    }
  }
  return { state, result };
}

/** Why a revision is not Ready, quoting Knative's reason and message; undefined when it is. */
export function notReadyReason(status: RevisionStatus | undefined): string | undefined {
  const ready = status?.conditions?.find((condition) => condition.type === "Ready");
  if (ready?.status === "True") return undefined;
  if (ready === undefined) return "it has no Ready condition yet (Knative has not reconciled it)";
  const said = [ready.reason, ready.message].filter((part) => part !== undefined && part !== "");
  return `Ready is ${ready.status}${said.length > 0 ? `: ${said.join(": ")}` : ""}`;
}
