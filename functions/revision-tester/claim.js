// The claim protocol: one test per revision, whatever the number of duplicate events, replicas
// or restarts.
// 1. claim: a JSON merge patch on the Revision that carries the resourceVersion just read (the
//    API server answers 409 Conflict when anything changed since) and sets the annotation
//    canary-release.dev/smoke-test-claim = {"holder": TESTER_ID, "at": ISO time}. Of two testers
//    that read the same Revision, exactly one claim succeeds; the other stops quietly.
//    In-process, a set of revisions under test (tester.js) drops duplicates before any API
//    request.
// 2. test: smokeTest.js, while the claim holds.
// 3. record: the label canary-release.dev/smoke-test = passed | failed | error and the annotation
//    canary-release.dev/smoke-test-result = {status, latencyMs, at, reason, url?}, by a merge
//    patch that also removes the claim (the result supersedes it), written only while the claim
//    on the Revision is still this tester's.
// `error` means the test could not run (the Kubernetes API or the tester failed, retried inside the
// claim until ROUTE_READY_TIMEOUT_SECONDS): it is no verdict, and the resync tests the revision
// again (events do not, so a broken API is not hammered); the new passed or failed replaces it.
// The result counts the `error`s in a row (`errors`), and the retest backs off: after the n-th, the
// 2^(n-1)-th resync retests (1st, 2nd, 4th ..., at most the 32nd), as a cause that persists (an
// EXPECT_BODY that always runs out of time, an API that refuses) would give the same result each
// time, and each retest creates a smoke Route and wakes a pod.
// A claim older than CLAIM_TTL_SECONDS belongs to a tester that died mid-test: the next event or
// resync re-claims it with the same resourceVersion protocol. CLAIM_TTL_SECONDS must exceed the
// longest possible test, so a live test is never re-claimed. To test a revision again, remove the
// label and the result annotation; the update event that follows starts a new test.
"use strict";

const { isObject, isString, objectAt, sleep } = require("../shared/checks");
const { CONFIGURATION_LABEL, servingPath } = require("../shared/knative");
const {
  ApiUnavailable,
  MERGE_PATCH,
  apiError,
  describeCondition,
  readyCondition,
} = require("../shared/kubernetes");

/** The tester's record on a Revision (the result names match common/revisionRecord.ts). */
const SMOKE_TEST_LABEL = "canary-release.dev/smoke-test";
/** The values of SMOKE_TEST_LABEL: the app's verdict, or `error` when the test could not run. */
const VERDICTS = Object.freeze(["passed", "failed", "error"]);
const SMOKE_TEST_RESULT_ANNOTATION = "canary-release.dev/smoke-test-result";
const SMOKE_TEST_CLAIM_ANNOTATION = "canary-release.dev/smoke-test-claim";
const MAX_RECORD_ATTEMPTS = 5;
/** The longest wait before an `error` result is retested, in resync intervals. */
const MAX_ERROR_BACKOFF_RESYNCS = 32;

/** The claim annotation's holder and time; `at` is NaN when the value is not a claim. */
function parseClaim(value) {
  try {
    const claim = JSON.parse(value);
    if (isObject(claim) && isString(claim.at)) {
      return { holder: String(claim.holder), at: Date.parse(claim.at) };
    }
  } catch {
    // not JSON: treated as expired below
  }
  return { holder: "unknown", at: NaN };
}

/**
 * How many tests of the Revision in a row could not run, as its record says: 0 unless its label
 * is `error`; 1 for an `error` result without a readable count (written before the count).
 */
function errorCount(revision) {
  const metadata = objectAt(revision, "metadata");
  if (objectAt(metadata, "labels")[SMOKE_TEST_LABEL] !== "error") return 0;
  const errors = readResult(revision).errors;
  return Number.isSafeInteger(errors) && errors >= 1 ? errors : 1;
}

/** The result annotation as an object ({} when missing or not JSON). */
function readResult(revision) {
  try {
    const result = JSON.parse(
      objectAt(revision, "metadata", "annotations")[SMOKE_TEST_RESULT_ANNOTATION],
    );
    return isObject(result) ? result : {};
  } catch {
    return {};
  }
}

/** Which resync after the `errors`-th `error` in a row retests the revision: 1, 2, 4 ... 32. */
function retestResync(errors) {
  return Math.min(2 ** (Math.max(errors, 1) - 1), MAX_ERROR_BACKOFF_RESYNCS);
}

/**
 * Whether a Revision (as the API or an event shows it) is one to test now:
 * {test: true, expiredClaim?} or {ignore: reason}. options.retestErrors: an `error` result is
 * tested again (the resync asks this; events do not).
 */
function revisionDecision(revision, config, nowMs, options = {}) {
  const metadata = objectAt(revision, "metadata");
  const labels = objectAt(metadata, "labels");
  const annotations = objectAt(metadata, "annotations");
  if (metadata.namespace !== config.namespace) {
    return { ignore: `the Revision is in namespace ${JSON.stringify(metadata.namespace)}` };
  }
  if (metadata.deletionTimestamp !== undefined) return { ignore: "the Revision is being deleted" };
  if (config.configuration !== undefined && labels[CONFIGURATION_LABEL] !== config.configuration) {
    return {
      ignore:
        `the Revision belongs to configuration ${JSON.stringify(labels[CONFIGURATION_LABEL])}, ` +
        `not ${config.configuration}`,
    };
  }
  const verdict = labels[SMOKE_TEST_LABEL];
  if (verdict === "error" && !options.retestErrors) {
    return {
      ignore: `the last test could not run (${SMOKE_TEST_LABEL}=error): a resync retests it`,
    };
  }
  if (verdict === "error") {
    // The k-th resync after the result runs (k-1, k] intervals after it: it is due from k-1.
    const errors = errorCount(revision);
    const resync = retestResync(errors);
    const dueMs = Date.parse(readResult(revision).at) + (resync - 1) * config.resyncIntervalMs;
    // A result without a readable `at` is retested: better once too often than never.
    if (resync > 1 && nowMs < dueMs) {
      return {
        ignore:
          `the last ${errors} tests could not run: retested at a resync from ` +
          new Date(dueMs).toISOString(),
      };
    }
  }
  if (verdict !== "error" && (verdict !== undefined || annotations[SMOKE_TEST_RESULT_ANNOTATION])) {
    return { ignore: `already tested (${SMOKE_TEST_LABEL}=${verdict})` };
  }
  const ready = readyCondition(revision);
  if (!ready || ready.status !== "True") {
    return { ignore: `the Revision is not Ready (${describeCondition(ready)})` };
  }
  const claimValue = annotations[SMOKE_TEST_CLAIM_ANNOTATION];
  if (claimValue !== undefined) {
    const claim = parseClaim(claimValue);
    if (nowMs - claim.at < config.claimTtlMs) {
      return { ignore: `claimed by ${claim.holder} at ${new Date(claim.at).toISOString()}` };
    }
    return { test: true, expiredClaim: String(claimValue) };
  }
  return { test: true };
}

/** The claim: fails with 409 Conflict if the Revision changed since `resourceVersion`. */
function claimPatch(resourceVersion, claim) {
  return { metadata: { resourceVersion, annotations: { [SMOKE_TEST_CLAIM_ANNOTATION]: claim } } };
}

/**
 * The record: result label (a VERDICTS value) and annotation; the claim is removed (null deletes
 * in a merge patch).
 */
function resultPatch(resourceVersion, verdict, result) {
  if (!VERDICTS.includes(verdict)) {
    throw new Error(
      `verdict must be one of ${VERDICTS.join(", ")}, got ${JSON.stringify(verdict)}`,
    );
  }
  return {
    metadata: {
      resourceVersion,
      labels: { [SMOKE_TEST_LABEL]: verdict },
      annotations: {
        [SMOKE_TEST_RESULT_ANNOTATION]: JSON.stringify(result),
        [SMOKE_TEST_CLAIM_ANNOTATION]: null,
      },
    },
  };
}

/**
 * Reads Revision `name` and claims it when it is to be tested. Resolves to {claim, revision}
 * (the claim's value, and the Revision as the claim left it), {ignore: reason}, or {error:
 * message} when the API refused a request (logged; the event's sender may retry). Rejects with
 * ApiUnavailable.
 *
 * context: {api, config, log}; options: {retestErrors} (see revisionDecision).
 */
async function claimRevision(context, name, options = {}) {
  const { api, config, log } = context;
  const path = servingPath(config.namespace, "revisions", name);
  const read = await api("GET", path);
  if (read.status === 404) return { ignore: "the Kubernetes API has no such Revision" };
  if (read.status !== 200) {
    const message = apiError(`reading Revision ${config.namespace}/${name}`, read);
    log("error", "cannot read the Revision", { revision: name, error: message });
    return { error: message };
  }
  const decision = revisionDecision(read.body, config, Date.now(), options);
  if (decision.ignore !== undefined) return { ignore: decision.ignore };
  if (decision.expiredClaim !== undefined) {
    log("warn", "re-claiming a Revision whose claim expired: its tester died mid-test", {
      revision: name,
      expiredClaim: decision.expiredClaim,
    });
  }

  const claim = JSON.stringify({ holder: config.testerId, at: new Date().toISOString() });
  const resourceVersion = objectAt(read.body, "metadata").resourceVersion;
  let claimed;
  try {
    claimed = await api("PATCH", path, claimPatch(resourceVersion, claim), MERGE_PATCH);
  } catch (error) {
    if (!(error instanceof ApiUnavailable)) throw error;
    // The answer is lost, not necessarily the write: judging the claim lost would lock the
    // revision for the whole claim TTL if it was applied. The Revision says which.
    return confirmClaim(context, name, claim, decision.expiredClaim, error.message);
  }
  if (claimed.status >= 500) {
    const failure = apiError(`claiming Revision ${name}`, claimed);
    return confirmClaim(context, name, claim, decision.expiredClaim, failure);
  }
  if (claimed.status === 409) return { ignore: "another tester claimed it first (409 Conflict)" };
  if (claimed.status === 404) return { ignore: "the Revision was deleted before the claim" };
  if (claimed.status !== 200) {
    const message = apiError(`claiming Revision ${config.namespace}/${name}`, claimed);
    log("error", "cannot claim the Revision", { revision: name, error: message });
    return { error: message };
  }
  return { claim, revision: isObject(claimed.body) ? claimed.body : read.body };
}

/** How often confirmClaim reads the Revision before it gives up. */
const MAX_CONFIRM_READS = 3;

/**
 * After a claim whose answer was lost (a timeout, a 5xx, a 200 that is not JSON): reads the
 * Revision again; resolves to {claim, revision} when the claim on it is ours (the write was
 * applied: go on testing), {ignore} when another tester's is, or {error} when ours is not there
 * (the event's sender retries) or the Revision cannot be read. Never rejects for an API failure.
 * expiredClaim: the dead tester's claim we tried to replace, if any; still there, it means our
 * claim was not applied (no live tester holds it), so the event must be retried, not dropped.
 */
async function confirmClaim(context, name, claim, expiredClaim, failure) {
  const { api, config, log } = context;
  const path = servingPath(config.namespace, "revisions", name);
  let last = failure;
  for (let attempt = 1; attempt <= MAX_CONFIRM_READS; attempt++) {
    await sleep(config.pollIntervalMs * 2 ** (attempt - 1));
    try {
      const read = await api("GET", path);
      if (read.status === 404) return { ignore: "the Revision was deleted during the claim" };
      if (read.status === 200) {
        const holder = objectAt(read.body, "metadata", "annotations")[SMOKE_TEST_CLAIM_ANNOTATION];
        if (holder === claim) {
          log("info", "the claim's answer was lost, but the claim was applied: testing", {
            revision: name,
            failure,
          });
          return { claim, revision: read.body };
        }
        if (holder !== undefined && holder !== expiredClaim) {
          return { ignore: "another tester holds the claim (its answer to ours was lost)" };
        }
        // No claim, or still the dead tester's expired one: ours was not applied.
        const message = `claiming Revision ${config.namespace}/${name}: ${failure}; the claim was not applied`;
        log("error", "cannot claim the Revision", { revision: name, error: message });
        return { error: message };
      }
      last = apiError(`reading Revision ${config.namespace}/${name}`, read);
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      last = error.message;
    }
  }
  const message =
    `claiming Revision ${config.namespace}/${name}: ${failure}; whether the claim was applied ` +
    `is unknown (${last})`;
  log("error", "cannot claim the Revision", { revision: name, error: message });
  return { error: message };
}

/**
 * Writes the result on the Revision while the claim there is still ours; resolves to whether
 * it did. Reads first, as Knative itself updates the Revision while its Route exists. Never
 * rejects for an API failure: it retries, then gives up (the claim expires and the revision is
 * tested again).
 */
async function recordResult(context, name, claim, verdict, result) {
  const { api, config, log } = context;
  const path = servingPath(config.namespace, "revisions", name);
  for (let attempt = 1; attempt <= MAX_RECORD_ATTEMPTS; attempt++) {
    try {
      const current = await api("GET", path);
      if (current.status === 404) {
        log("warn", "the Revision was deleted during its test: no result recorded", {
          revision: name,
        });
        return false;
      }
      if (current.status === 200) {
        const metadata = objectAt(current.body, "metadata");
        const annotations = objectAt(metadata, "annotations");
        const holder = annotations[SMOKE_TEST_CLAIM_ANNOTATION];
        if (
          holder === undefined &&
          annotations[SMOKE_TEST_RESULT_ANNOTATION] === JSON.stringify(result) &&
          objectAt(metadata, "labels")[SMOKE_TEST_LABEL] === verdict
        ) {
          // An earlier attempt's patch was applied and only its answer lost.
          log("info", "the result's answer was lost, but the result was recorded", {
            revision: name,
          });
          return true;
        }
        if (holder !== claim) {
          log("warn", "the claim was taken over: this tester does not record", {
            revision: name,
            claim: holder ?? null,
          });
          return false;
        }
        const patched = await api(
          "PATCH",
          path,
          resultPatch(metadata.resourceVersion, verdict, result),
          MERGE_PATCH,
        );
        if (patched.status === 200) return true;
        if (patched.status !== 409) {
          log("error", "cannot record the result", {
            revision: name,
            error: apiError(`patching Revision ${name}`, patched),
          });
        }
      } else {
        log("error", "cannot read the Revision to record the result", {
          revision: name,
          error: apiError(`reading Revision ${name}`, current),
        });
      }
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      log("error", "cannot record the result", { revision: name, error: error.message });
    }
    if (attempt < MAX_RECORD_ATTEMPTS) await sleep(config.pollIntervalMs);
  }
  log("error", "gave up recording the result: the claim expires and the revision is re-tested", {
    revision: name,
  });
  return false;
}

module.exports = {
  SMOKE_TEST_LABEL,
  VERDICTS,
  SMOKE_TEST_RESULT_ANNOTATION,
  SMOKE_TEST_CLAIM_ANNOTATION,
  MAX_ERROR_BACKOFF_RESYNCS,
  errorCount,
  retestResync,
  parseClaim,
  revisionDecision,
  claimPatch,
  resultPatch,
  claimRevision,
  recordResult,
};
