#!/usr/bin/env node
// Tekton Task commit-status: posts the build's GitHub commit status (context
// canary-release/build): `pending` when a run starts, then success or failure from the Pipeline's
// aggregate status (the tasks.status variable) in its `finally` task.
//
// A commit status is a courtesy, never a reason to fail the build: without a token the step
// logs that it skips, and a failed post is logged; the step always exits 0. The token is never
// printed.
//
// Inputs, all from the environment (the Task maps its params to env):
//   GITHUB_TOKEN      token allowed to post statuses (repo:status); unset or empty: skip
//   GITHUB_API_URL    default https://api.github.com (GitHub Enterprise: https://HOST/api/v3)
//   REPO_FULL_NAME    <owner>/<repository>
//   REVISION          full 40-character commit SHA
//   STATE             pending | success | failure | error, or a Tekton aggregate status
//                     (Succeeded, Completed -> success; Failed -> failure; None -> error)
//   DESCRIPTION       optional; a default per state otherwise (GitHub keeps 140 characters)
//   STATUS_CONTEXT    default canary-release/build
//   TARGET_URL        optional link shown next to the status
//   REQUEST_TIMEOUT_MS default 10000
//
// Node built-ins only: the step runs this file as `node pipeline/commit-status.js` from the
// ConfigMap that ships it with functions/shared/ (components/shared/inClusterCode.ts), in a stock Node
// image.
"use strict";

const { baseUrl, COMMIT_SHA } = require("../shared/checks");
const {
  DEFAULT_GITHUB_API_URL,
  REPO_FULL_NAME,
  githubRepositoryProblem,
  postCommitStatus,
  statusDescription,
  statusPath,
} = require("../shared/github");

const DEFAULT_CONTEXT = "canary-release/build";
const USER_AGENT = "canary-release-pipeline";

/** GitHub's states, and the values of Tekton's tasks.status variable mapped to them. */
const STATES = Object.freeze({
  pending: "pending",
  success: "success",
  failure: "failure",
  error: "error",
  Succeeded: "success",
  Completed: "success",
  Failed: "failure",
  None: "error",
});

const DEFAULT_DESCRIPTIONS = Object.freeze({
  pending: "Building the image and deploying the revision",
  success: "Image built and revision deployed",
  failure: "Build or deploy failed: see the PipelineRun",
  error: "The pipeline ended without a result",
});

/**
 * What to post, from the environment: {skip: reason} or {apiUrl, token, path, status}. Never
 * throws: a bad input is a skip with the reason.
 */
function statusRequest(env) {
  const token = (env.GITHUB_TOKEN || "").trim();
  if (token === "") {
    return { skip: "no GitHub token configured: not posting a commit status" };
  }
  const repo = env.REPO_FULL_NAME || "";
  if (!REPO_FULL_NAME.test(repo)) {
    return { skip: `REPO_FULL_NAME must be <owner>/<repository>, got ${JSON.stringify(repo)}` };
  }
  // The pattern lets `.` and `..` through, which in the API path would name another resource.
  const [owner, name] = repo.split("/");
  const nameProblem = githubRepositoryProblem(owner, name);
  if (nameProblem !== undefined) {
    return { skip: `REPO_FULL_NAME ${JSON.stringify(repo)}: ${nameProblem}` };
  }
  const sha = env.REVISION || "";
  if (!COMMIT_SHA.test(sha)) {
    return {
      skip: `REVISION must be a full 40-character lowercase hex SHA, got ${JSON.stringify(sha)}`,
    };
  }
  const state = Object.prototype.hasOwnProperty.call(STATES, env.STATE || "")
    ? STATES[env.STATE]
    : undefined;
  if (state === undefined) {
    return {
      skip: `STATE must be one of ${Object.keys(STATES).join(", ")}, got ${JSON.stringify(env.STATE)}`,
    };
  }
  let apiUrl;
  try {
    apiUrl = baseUrl("GITHUB_API_URL", env.GITHUB_API_URL || DEFAULT_GITHUB_API_URL);
  } catch (error) {
    return { skip: error.message };
  }
  const status = {
    state,
    context: env.STATUS_CONTEXT || DEFAULT_CONTEXT,
    description: statusDescription(env.DESCRIPTION || DEFAULT_DESCRIPTIONS[state]),
  };
  if (env.TARGET_URL) status.target_url = env.TARGET_URL;
  return { apiUrl, token, path: statusPath(owner, name, sha), status };
}

async function main(env) {
  const token = (env.GITHUB_TOKEN || "").trim();
  // Whatever goes to the log passes here, so the token cannot leak through an error message.
  const log = (message) => {
    const text = token === "" ? message : message.split(token).join("***");
    console.log(`commit-status: ${text}`);
  };
  const request = statusRequest(env);
  if (request.skip !== undefined) {
    log(request.skip);
    return 0;
  }
  const where = `${env.REPO_FULL_NAME}@${env.REVISION.slice(0, 7)}`;
  const timeoutMs = Number(env.REQUEST_TIMEOUT_MS) > 0 ? Number(env.REQUEST_TIMEOUT_MS) : 10000;
  const { state, context } = request.status;
  try {
    const answer = await postCommitStatus(
      request.apiUrl,
      request.token,
      request.path,
      request.status,
      { userAgent: USER_AGENT, timeoutMs },
    );
    if (answer.status >= 200 && answer.status < 300) {
      log(`${context} is ${state} on ${where}`);
    } else {
      log(
        `GitHub answered HTTP ${answer.status} to the ${state} status on ${where}; ` +
          `the build goes on without it`,
      );
    }
  } catch (error) {
    log(`could not post the ${state} status on ${where}: ${error.message}`);
  }
  return 0;
}

module.exports = { STATES, DEFAULT_CONTEXT, statusRequest };

if (require.main === module) {
  main(process.env).then((code) => {
    process.exitCode = code;
  });
}
