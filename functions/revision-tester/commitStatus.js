// The tester's GitHub commit status (context canary-release/smoke-test) on the commit a revision
// was built from, posted once the result is recorded. A courtesy: with no GITHUB_TOKEN_FILE, or a
// revision without the pipeline's annotations, there is none, and a failed post is only logged.
"use strict";

const { COMMIT_SHA, isString, objectAt } = require("../shared/checks");
const {
  githubRepositoryProblem,
  postCommitStatus,
  statusDescription,
  statusPath,
} = require("../shared/github");
const { readTokenFile } = require("../shared/http");
const { REVISION_ANNOTATIONS } = require("../shared/knative");
const { USER_AGENT } = require("./config");

const STATUS_CONTEXT = "canary-release/smoke-test";

/**
 * `{owner, repo}` from a clone URL (https://HOST/OWNER/REPO(.git) or git@HOST:OWNER/REPO.git), or
 * `{problem}` saying why it is not one. The names are checked as GitHub checks them
 * (githubRepositoryProblem): ".." must never reach an API path.
 */
function parseCloneUrl(cloneUrl) {
  const expected = "a clone URL like https://github.com/OWNER/REPO.git";
  if (!isString(cloneUrl)) return { problem: `not ${expected} (got ${JSON.stringify(cloneUrl)})` };
  const match = /^(?:https?:\/\/[^/\s]+\/|git@[^:\s]+:)([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/.exec(
    cloneUrl.trim(),
  );
  if (!match) return { problem: `not ${expected} (got ${JSON.stringify(cloneUrl)})` };
  const [, owner, repo] = match;
  const problem = githubRepositoryProblem(owner, repo);
  if (problem !== undefined) return { problem: `${JSON.stringify(cloneUrl)}: ${problem}` };
  return { owner, repo };
}

/** `{owner, repo}` from a clone URL, or undefined when it names no GitHub repository. */
function githubRepository(cloneUrl) {
  const parsed = parseCloneUrl(cloneUrl);
  return parsed.problem === undefined ? { owner: parsed.owner, repo: parsed.repo } : undefined;
}

/**
 * GitHub's state for each of the tester's verdicts. An infrastructure `error` (the test could not
 * run) is GitHub's `error` state, never `failure`: only the app's own answer fails a revision, and
 * the retest's `success` or `failure` replaces it under the same context.
 */
const STATUS_STATES = Object.freeze({ passed: "success", failed: "failure", error: "error" });
const STATUS_WORDS = Object.freeze({
  passed: "Smoke test passed",
  failed: "Smoke test failed",
  error: "Smoke test could not run (retried at the next resync)",
});

/** The commit status request for a result: {path, body}, or {skip: reason}. */
function commitStatusRequest(annotations, verdict, result) {
  const state = STATUS_STATES[verdict];
  if (state === undefined) {
    throw new Error(`verdict must be passed, failed or error, got ${JSON.stringify(verdict)}`);
  }
  const sha = annotations[REVISION_ANNOTATIONS.commit];
  if (!isString(sha) || !COMMIT_SHA.test(sha)) {
    return {
      skip: `the Revision has no full commit SHA in ${REVISION_ANNOTATIONS.commit} (got ${JSON.stringify(sha)})`,
    };
  }
  const repository = parseCloneUrl(annotations[REVISION_ANNOTATIONS.repository]);
  if (repository.problem !== undefined) {
    return {
      skip: `${REVISION_ANNOTATIONS.repository} names no GitHub repository: ${repository.problem}`,
    };
  }
  return {
    path: statusPath(repository.owner, repository.repo, sha),
    body: {
      state,
      context: STATUS_CONTEXT,
      description: statusDescription(`${STATUS_WORDS[verdict]}: ${result.reason}`),
    },
  };
}

/**
 * Posts the result of revision `name` as a commit status. Every problem is logged, none is fatal.
 * context: {config, log, secrets} (the token joins the secrets the log redacts).
 */
async function postResultStatus(context, name, revision, verdict, result) {
  const { config, log, secrets } = context;
  const tokenFile = config.github.tokenFile;
  if (tokenFile === undefined) return;
  const request = commitStatusRequest(
    objectAt(revision, "metadata", "annotations"),
    verdict,
    result,
  );
  if (request.skip !== undefined) {
    log("info", "no commit status", { revision: name, reason: request.skip });
    return;
  }
  let token;
  try {
    token = readTokenFile(tokenFile, "GITHUB_TOKEN_FILE");
  } catch (error) {
    log("warn", "no commit status", { revision: name, reason: error.message });
    return;
  }
  secrets.remember(token);
  try {
    const res = await postCommitStatus(config.github.url, token, request.path, request.body, {
      userAgent: USER_AGENT,
      timeoutMs: config.requestTimeoutMs,
    });
    if (res.status >= 200 && res.status < 300) {
      log("info", "commit status posted", { revision: name, state: request.body.state });
    } else {
      log("warn", "GitHub refused the commit status", {
        revision: name,
        status: res.status,
        // Redacted before the cut: a token echoed across it would leak in part otherwise.
        body: secrets.cut(res.text, 300),
      });
    }
  } catch (error) {
    log("warn", "could not post the commit status", { revision: name, error: error.message });
  }
}

module.exports = { STATUS_CONTEXT, githubRepository, commitStatusRequest, postResultStatus };
