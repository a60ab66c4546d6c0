// The tester itself: what it does with each event, the tests it runs in the background, and
// the periodic re-scan that tests what no event announced. The steps are in claim.js (one test
// per revision), smokeTest.js and commitStatus.js.
"use strict";

const { DNS1123_LABEL, isString, objectAt } = require("../shared/checks");
const { CONFIGURATION_LABEL, servingPath } = require("../shared/knative");
const { ApiUnavailable, apiError, kubernetesClient } = require("../shared/kubernetes");
const { claimRevision, recordResult, revisionDecision } = require("./claim");
const { eventTarget } = require("./cloudEvents");
const { postResultStatus } = require("./commitStatus");
const { USER_AGENT } = require("./config");
const { cleanupRoutes, runSmokeTest } = require("./smokeTest");

class Tester {
  /** config: readConfig(); log: createLogger(); secrets: the Secrets the log redacts. */
  constructor(config, log, secrets) {
    this.config = config;
    this.log = log;
    this.api = kubernetesClient(config.kubernetes, {
      requestTimeoutMs: config.requestTimeoutMs,
      userAgent: USER_AGENT,
      onToken: (token) => secrets.remember(token),
    });
    /** What the steps in the other modules use. */
    this.context = { api: this.api, config, log, secrets };
    /** Revisions this process is reading, claiming or testing: duplicates stop here. */
    this.inFlight = new Set();
    /** Promises of the running tests, awaited on shutdown. */
    this.running = new Set();
    this.resyncing = false;
  }

  /** The answer to one CloudEvent: {status, body}. */
  async handleEvent(event) {
    const target = eventTarget(event, this.config, Date.now());
    if (target.invalid !== undefined) {
      this.log("warn", "refused an event", { eventId: event.id, reason: target.invalid });
      return { status: 400, body: { error: target.invalid } };
    }
    if (target.ignore !== undefined) {
      return this.ignored(target.name, target.ignore, event.id);
    }
    return this.consider(target.name, event.id);
  }

  ignored(revision, reason, eventId) {
    this.log("debug", "ignored", { revision, reason, eventId });
    return {
      status: 202,
      body: { action: "ignored", reason, ...(revision !== undefined ? { revision } : {}) },
    };
  }

  /**
   * Reads the Revision, claims it when it is to be tested, and starts the test in the
   * background. options: {retestErrors} (the resync's; see claim.js revisionDecision). Resolves to the answer for the event; API failures answer 502 so that the
   * sender may retry.
   */
  async consider(name, eventId, options = {}) {
    if (this.inFlight.has(name)) {
      return this.ignored(
        name,
        "a duplicate: this tester is already handling the Revision",
        eventId,
      );
    }
    this.inFlight.add(name);
    let started = false;
    try {
      const claimed = await claimRevision(this.context, name, options);
      if (claimed.ignore !== undefined) return this.ignored(name, claimed.ignore, eventId);
      if (claimed.error !== undefined) return { status: 502, body: { error: claimed.error } };
      started = true;
      this.log("info", "claimed; smoke test starting", { revision: name, eventId });
      const run = this.runTest(name, claimed.claim, claimed.revision)
        .catch((error) => {
          this.log("error", "unexpected error in a smoke test", {
            revision: name,
            error: String(error && error.stack ? error.stack : error),
          });
        })
        .finally(() => {
          this.inFlight.delete(name);
          this.running.delete(run);
        });
      this.running.add(run);
      return { status: 202, body: { action: "testing", revision: name } };
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      this.log("error", "the Kubernetes API is unavailable", {
        revision: name,
        error: error.message,
      });
      return { status: 502, body: { error: error.message } };
    } finally {
      if (!started) this.inFlight.delete(name);
    }
  }

  /** Test, record, report. Never rejects for a failure of the revision or of an API. */
  async runTest(name, claim, revision) {
    const { verdict, result } = await runSmokeTest(this.context, name, claim, revision);
    const recorded = await recordResult(this.context, name, claim, verdict, result);
    // Only the holder of the claim reports, so GitHub gets one status per revision as well.
    if (recorded) await postResultStatus(this.context, name, revision, verdict, result);
    this.log(verdict === "passed" ? "info" : "warn", "smoke test finished", {
      revision: name,
      outcome: verdict,
      recorded,
      status: result.status,
      latencyMs: result.latencyMs,
      reason: result.reason,
    });
  }

  /** Deletes leftover smoke Routes (smokeTest.js): at start-up and with every resync. */
  cleanupRoutes() {
    return cleanupRoutes(this.context);
  }

  /**
   * Considers every Revision that is Ready and untested, whose claim expired, or whose last test
   * could not run (`error`): the resync is what retests those.
   */
  async scanRevisions() {
    const selector =
      this.config.configuration === undefined
        ? ""
        : `&labelSelector=${encodeURIComponent(`${CONFIGURATION_LABEL}=${this.config.configuration}`)}`;
    let continueToken;
    try {
      do {
        const page =
          continueToken === undefined ? "" : `&continue=${encodeURIComponent(continueToken)}`;
        const list = await this.api(
          "GET",
          `${servingPath(this.config.namespace, "revisions")}?limit=100${selector}${page}`,
        );
        if (list.status !== 200) {
          this.log("error", "cannot list Revisions", {
            error: apiError("listing Revisions", list),
          });
          return;
        }
        const items = Array.isArray(objectAt(list.body).items) ? list.body.items : [];
        for (const revision of items) {
          const name = objectAt(revision, "metadata").name;
          if (!isString(name) || !DNS1123_LABEL.test(name)) continue;
          // List items carry no apiVersion/kind: decide on what they do carry.
          const retest = { retestErrors: true };
          if (revisionDecision(revision, this.config, Date.now(), retest).test) {
            await this.consider(name, "resync", retest);
          }
        }
        continueToken = objectAt(list.body, "metadata").continue;
      } while (isString(continueToken));
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      this.log("error", "cannot list Revisions", { error: error.message });
    }
  }

  async resync(withRoutes) {
    if (this.resyncing) return;
    this.resyncing = true;
    try {
      if (withRoutes) await cleanupRoutes(this.context);
      await this.scanRevisions();
    } finally {
      this.resyncing = false;
    }
  }
}

module.exports = { Tester };
