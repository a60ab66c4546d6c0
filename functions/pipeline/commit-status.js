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
// Node built-ins only: this file runs as is in a stock Node image.
"use strict";

const http = require("http");
const https = require("https");

const DEFAULT_API_URL = "https://api.github.com";
const DEFAULT_CONTEXT = "canary-release/build";
const REPO_FULL_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const COMMIT_SHA = /^[0-9a-f]{40}$/;

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
 * What to post, from the environment: {skip: reason} or {url, headers, body}. Never throws:
 * a bad input is a skip with the reason.
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
  const base = (env.GITHUB_API_URL || DEFAULT_API_URL).replace(/\/+$/, "");
  let protocol;
  try {
    protocol = new URL(base).protocol;
  } catch {
    protocol = "";
  }
  if (protocol !== "https:" && protocol !== "http:") {
    return { skip: `GITHUB_API_URL must be an https:// URL, got ${JSON.stringify(base)}` };
  }
  const [owner, name] = repo.split("/");
  const body = {
    state,
    context: env.STATUS_CONTEXT || DEFAULT_CONTEXT,
    description: (env.DESCRIPTION || DEFAULT_DESCRIPTIONS[state]).slice(0, 140),
  };
  if (env.TARGET_URL) body.target_url = env.TARGET_URL;
  return {
    url: `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/statuses/${sha}`,
    headers: {
      Accept: "application/vnd.github+json",
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      "User-Agent": "canary-release-pipeline",
      "X-GitHub-Api-Version": "2022-11-28",
    },
    body,
  };
}

/** POSTs the status; resolves to the HTTP status code, rejects on a network error. */
function post(request, timeoutMs) {
  const payload = JSON.stringify(request.body);
  const transport = request.url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      request.url,
      {
        method: "POST",
        headers: { ...request.headers, "Content-Length": String(Buffer.byteLength(payload)) },
      },
      (res) => {
        res.resume(); // the answer's body is not needed; drain it so the socket closes
        res.on("end", () => resolve(res.statusCode));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
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
  try {
    const status = await post(request, timeoutMs);
    if (status >= 200 && status < 300) {
      log(`${request.body.context} is ${request.body.state} on ${where}`);
    } else {
      log(
        `GitHub answered HTTP ${status} to the ${request.body.state} status on ${where}; ` +
          `the build goes on without it`,
      );
    }
  } catch (error) {
    log(`could not post the ${request.body.state} status on ${where}: ${error.message}`);
  }
  return 0;
}

module.exports = { STATES, DEFAULT_CONTEXT, statusRequest };

if (require.main === module) {
  main(process.env).then((code) => {
    process.exitCode = code;
  });
}
