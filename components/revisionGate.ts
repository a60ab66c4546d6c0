// The candidate gate's decision, kept pure so every branch is tested without a cluster.

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

/**
 * Why `revision` must not receive traffic yet, or undefined when its Ready condition is True.
 * The message quotes Knative's own reason and message, so the reviewer of a preview sees what
 * the cluster says without running kubectl.
 */
export function candidateNotReadyReason(
  revision: string,
  namespace: string,
  status: RevisionStatus | undefined,
): string | undefined {
  const ready = status?.conditions?.find((condition) => condition.type === "Ready");
  if (ready?.status === "True") return undefined;

  const override =
    "Wait for it, pick another candidate, or set canary-release:verifyCandidate false to skip this check.";
  const subject = `candidate revision ${namespace}/${revision}`;
  if (ready === undefined) {
    return `Refusing to send traffic to ${subject}: it has no Ready condition yet (Knative has not reconciled it). ${override}`;
  }
  const said = [ready.reason, ready.message].filter((part) => part !== undefined && part !== "");
  const detail = said.length > 0 ? `: ${said.join(": ")}` : "";
  return `Refusing to send traffic to ${subject}: Ready is ${ready.status}${detail}. ${override}`;
}

/** Whether the candidate gate runs for this update, and what to tell the user when it cannot. */
export function candidateGateMode(options: {
  readonly verifyCandidate: boolean;
  readonly canaryPercent: number;
  readonly renderOnly: boolean;
}): { readonly enabled: boolean; readonly warning?: string } {
  const wanted = options.verifyCandidate && options.canaryPercent > 0;
  if (wanted && options.renderOnly) {
    return {
      enabled: false,
      warning:
        "Render mode has no cluster to read the candidate revision from: the candidate gate " +
        "(canary-release:verifyCandidate) is skipped for these manifests. Check that the " +
        "candidate is Ready before applying them.",
    };
  }
  return { enabled: wanted };
}
