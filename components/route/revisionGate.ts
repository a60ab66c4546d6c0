// The candidate gate's decisions, kept pure so every branch is tested without a cluster.

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

/** What the gate requires of the candidate in this update. */
export interface CandidateGate {
  /** Refuse unless the Revision's Ready condition is True. */
  readonly requireReady: boolean;
  /** Refuse unless the revision tester recorded `passed`. */
  readonly requireSmokeTest: boolean;
  /** Let an untested or failed candidate through, but say so in the preview. */
  readonly warnUntested: boolean;
}

/**
 * Whether this update reads the candidate and what it requires of it, and what to tell the user
 * when it cannot check. The candidate is read whenever one is set (a Route to a revision that
 * does not exist is not Ready, so a mistyped candidate is caught even at 0 %); it must be Ready,
 * and tested when the tester runs, only once it gets traffic.
 */
export function candidateGateMode(options: {
  readonly hasCandidate: boolean;
  readonly verifyCandidate: boolean;
  readonly canaryPercent: number;
  readonly renderOnly: boolean;
  readonly testerEnabled: boolean;
  readonly allowUntestedCandidate: boolean;
}): { readonly gate?: CandidateGate; readonly warning?: string } {
  if (!options.hasCandidate || !options.verifyCandidate) return {};
  const getsTraffic = options.canaryPercent > 0;
  if (options.renderOnly) {
    return getsTraffic
      ? {
          warning:
            "Render mode has no cluster to read the candidate revision from: the candidate gate " +
            "(canary-release:verifyCandidate) is skipped for these manifests. Check that the " +
            "candidate is Ready and passed its smoke test before applying them.",
        }
      : {};
  }
  const tested = getsTraffic && options.testerEnabled;
  return {
    gate: {
      requireReady: getsTraffic,
      requireSmokeTest: tested && !options.allowUntestedCandidate,
      warnUntested: tested && options.allowUntestedCandidate,
    },
  };
}

/**
 * Whether this update reads the stable revision: whenever one is set and revisions are verified
 * (canary-release:verifyCandidate), as for the candidate. It gets the rest of the traffic, so it
 * must exist and be Ready: a mistyped stableRevision with the right prefix used to pass preview,
 * since only the candidate was read. Render mode has no cluster: skipped, with a warning.
 */
export function stableGateMode(options: {
  readonly hasStable: boolean;
  readonly verifyCandidate: boolean;
  readonly renderOnly: boolean;
}): { readonly read: boolean; readonly warning?: string } {
  if (!options.hasStable || !options.verifyCandidate) return { read: false };
  if (options.renderOnly) {
    return {
      read: false,
      warning:
        "Render mode has no cluster to read the stable revision from: that it exists and is " +
        "Ready (canary-release:verifyCandidate) is not checked for these manifests.",
    };
  }
  return { read: true };
}

/** Why the stable revision must not get traffic; undefined when it may. */
export function judgeStable(
  revision: string,
  namespace: string,
  status: RevisionStatus | undefined,
): string | undefined {
  const notReady = notReadyReason(status);
  if (notReady === undefined) return undefined;
  return (
    `Refusing to send traffic to stable revision ${namespace}/${revision}: ${notReady}. Check ` +
    "canary-release:stableRevision, or set canary-release:verifyCandidate false to skip this check."
  );
}

/** The gate's verdict on the candidate as read from the cluster. */
export interface CandidateVerdict {
  /** Why the update must not proceed; undefined when it may. */
  readonly refusal?: string;
  /** Something the reviewer must see although the update proceeds. */
  readonly warning?: string;
  readonly smokeTest: SmokeTestRecord;
}

export function judgeCandidate(
  revision: string,
  namespace: string,
  observed: { readonly status?: RevisionStatus; readonly metadata?: RevisionMetadata },
  gate: CandidateGate,
): CandidateVerdict {
  const smokeTest = smokeTestOf(observed.metadata);
  const subject = `candidate revision ${namespace}/${revision}`;
  if (gate.requireReady) {
    const notReady = notReadyReason(observed.status);
    if (notReady !== undefined) {
      return {
        refusal:
          `Refusing to send traffic to ${subject}: ${notReady}. Wait for it, pick another ` +
          "candidate, or set canary-release:verifyCandidate false to skip this check.",
        smokeTest,
      };
    }
  }
  if (smokeTest.state === "passed" || !(gate.requireSmokeTest || gate.warnUntested)) {
    return { smokeTest };
  }
  const finding = describeSmokeTest(smokeTest);
  if (gate.requireSmokeTest) {
    const advice =
      smokeTest.state === "failed" ? "Build a revision that passes" : "Wait for its result";
    return {
      refusal:
        `Refusing to send traffic to ${subject}: ${finding}. ${advice}, or set ` +
        "canary-release:allowUntestedCandidate true to send it traffic anyway.",
      smokeTest,
    };
  }
  return {
    warning: `Sending traffic to ${subject} although ${finding} (canary-release:allowUntestedCandidate is true).`,
    smokeTest,
  };
}

/** Why a revision is not Ready, quoting Knative's reason and message; undefined when it is. */
function notReadyReason(status: RevisionStatus | undefined): string | undefined {
  const ready = status?.conditions?.find((condition) => condition.type === "Ready");
  if (ready?.status === "True") return undefined;
  if (ready === undefined) return "it has no Ready condition yet (Knative has not reconciled it)";
  const said = [ready.reason, ready.message].filter((part) => part !== undefined && part !== "");
  return `Ready is ${ready.status}${said.length > 0 ? `: ${said.join(": ")}` : ""}`;
}

function describeSmokeTest(smokeTest: SmokeTestRecord): string {
  if (smokeTest.state === "untested") {
    return "it has no smoke test result yet (the revision tester records one once it is Ready)";
  }
  const result = smokeTest.result;
  if (smokeTest.state === "error") {
    // Not a verdict on the revision: the test itself could not run. Treated as untested.
    const why =
      result !== null && typeof result.reason === "string" && result.reason !== ""
        ? ` (${result.reason})`
        : "";
    return (
      `its smoke test could not run${why}, so it is untested; the revision tester retries it at ` +
      "its next resync"
    );
  }
  if (result === null) return "its smoke test failed";
  const measured = [
    result.status !== undefined ? `status ${String(result.status)}` : undefined,
    typeof result.latencyMs === "number" ? `${result.latencyMs} ms` : undefined,
    typeof result.at === "string" ? `at ${result.at}` : undefined,
  ].filter((part) => part !== undefined);
  const reason =
    typeof result.reason === "string" && result.reason !== "" ? `: ${result.reason}` : "";
  return `its smoke test failed${reason}${measured.length > 0 ? ` (${measured.join(", ")})` : ""}`;
}
