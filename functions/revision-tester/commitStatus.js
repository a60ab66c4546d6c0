// The tester's GitHub commit status (context canary-release/smoke-test) on the commit a revision
// was built from, posted once the result is recorded. A courtesy: with no GITHUB_TOKEN_FILE, or a
// revision without the pipeline's annotations, there is none, and a failed post is only logged.
"use strict";

const { COMMIT_SHA, isString, objectAt } = require("../shared/checks");
const { postCommitStatus, statusDescription, statusPath } = require("../shared/github");
const { readTokenFile } = require("../shared/http");
const { REVISION_ANNOTATIONS } = require("../shared/knative");
const { USER_AGENT } = require("./config");

const STATUS_CONTEXT = "canary-release/smoke-test";

/** `{owner, repo}` from a clone URL (https://HOST/OWNER/REPO(.git) or git@HOST:OWNER/REPO.git). */
function githubRepository(cloneUrl) {
  if (!isString(cloneUrl)) return undefined;
  const match =
    /^(?:https?:\/\/[^/\s]+\/|git@[^:\s]+:)([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(
      cloneUrl.trim(),
    );
  return match ? { owner: match[1], repo: match[2] } : undefined;
}

/** The commit status request for a result: {path, body}, or {skip: reason}. */
function commitStatusRequest(annotations, passed, result) {
  const sha = annotations[REVISION_ANNOTATIONS.commit];
  if (!isString(sha) || !COMMIT_SHA.test(sha)) {
    return {
      skip: `the Revision has no full commit SHA in ${REVISION_ANNOTATIONS.commit} (got ${JSON.stringify(sha)})`,
    };
  }
  const repository = githubRepository(annotations[REVISION_ANNOTATIONS.repository]);
  if (repository === undefined) {
    return {
      skip:
        `${REVISION_ANNOTATIONS.repository} is not a clone URL like ` +
        `https://github.com/OWNER/REPO.git (got ${JSON.stringify(annotations[REVISION_ANNOTATIONS.repository])})`,
    };
  }
  return {
    path: statusPath(repository.owner, repository.repo, sha),
    body: {
      state: passed ? "success" : "failure",
      context: STATUS_CONTEXT,
      description: statusDescription(
        `Smoke test ${passed ? "passed" : "failed"}: ${result.reason}`,
      ),
    },
  };
}

/**
 * Posts the result of revision `name` as a commit status. Every problem is logged, none is fatal.
 * context: {config, log, secrets} (the token joins the secrets the log redacts).
 */
async function postResultStatus(context, name, revision, passed, result) {
  const { config, log, secrets } = context;
  const tokenFile = config.github.tokenFile;
  if (tokenFile === undefined) return;
  const request = commitStatusRequest(
    objectAt(revision, "metadata", "annotations"),
    passed,
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
        body: res.text.slice(0, 300),
      });
    }
  } catch (error) {
    log("warn", "could not post the commit status", { revision: name, error: error.message });
  }
}

module.exports = { STATUS_CONTEXT, githubRepository, commitStatusRequest, postResultStatus };
