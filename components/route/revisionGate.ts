// The candidate gate's decisions, kept pure so every branch is tested without a cluster.
import {
  notReadyReason,
  type RevisionMetadata,
  type RevisionStatus,
  type SmokeTestRecord,
  smokeTestOf,
} from "../../common/revisionRecord";

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
