// GitHub commit statuses, as the pipeline's commit-status step and the revision tester post
// them: https://docs.github.com/rest/commits/statuses#create-a-commit-status
"use strict";

const { httpRequest } = require("./http");

const DEFAULT_GITHUB_API_URL = "https://api.github.com";
/** GitHub refuses a longer description. */
const MAX_DESCRIPTION_LENGTH = 140;
/** `<owner>/<repository>`, as GitHub spells full names. */
const REPO_FULL_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** `text`, cut to what GitHub accepts (the cut marked with "…"). */
function statusDescription(text) {
  return text.length <= MAX_DESCRIPTION_LENGTH
    ? text
    : `${text.slice(0, MAX_DESCRIPTION_LENGTH - 1)}…`;
}

/** The API path of a commit's statuses. */
function statusPath(owner, repo, sha) {
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${sha}`;
}

/**
 * POSTs one commit status: `status` is {state, context, description, target_url?}, `path` from
 * statusPath(), `apiUrl` without a trailing slash. Resolves to GitHub's answer {status, text}
 * whatever its HTTP status; rejects on a network error or after options.timeoutMs. The token
 * travels only in the Authorization header: callers must not log it, nor an answer unredacted.
 */
function postCommitStatus(apiUrl, token, path, status, options) {
  return httpRequest(`${apiUrl}${path}`, {
    method: "POST",
    headers: {
      Accept: "application/vnd.github+json",
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      "User-Agent": options.userAgent,
      "X-GitHub-Api-Version": "2022-11-28",
    },
    body: JSON.stringify(status),
    timeoutMs: options.timeoutMs,
  });
}

module.exports = {
  DEFAULT_GITHUB_API_URL,
  MAX_DESCRIPTION_LENGTH,
  REPO_FULL_NAME,
  statusDescription,
  statusPath,
  postCommitStatus,
};
