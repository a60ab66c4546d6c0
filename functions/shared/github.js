// GitHub commit statuses, as the pipeline's commit-status step and the revision tester post
// them: https://docs.github.com/rest/commits/statuses#create-a-commit-status
"use strict";

const { httpRequest } = require("./http");

const DEFAULT_GITHUB_API_URL = "https://api.github.com";
/** GitHub refuses a longer description. */
const MAX_DESCRIPTION_LENGTH = 140;
/** `<owner>/<repository>`, as GitHub spells full names (see githubRepositoryProblem too). */
const REPO_FULL_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
/** A GitHub login: letters, digits and single hyphens, not at either end, at most 39. */
const GITHUB_OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
/** A GitHub repository name: letters, digits, '.', '-' and '_', at most 100. */
const GITHUB_REPOSITORY = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * Why `owner`/`repo` cannot be a GitHub repository, or undefined when it can. GitHub's own rules,
 * so that a name such as ".." (which the character classes allow) never reaches an API path,
 * where it would address a different resource.
 */
function githubRepositoryProblem(owner, repo) {
  if (typeof owner !== "string" || !GITHUB_OWNER.test(owner)) {
    return (
      `the owner must be a GitHub user or organisation name (letters, digits and single '-', ` +
      `not first or last, at most 39 characters), got ${JSON.stringify(owner)}`
    );
  }
  if (typeof repo !== "string" || !GITHUB_REPOSITORY.test(repo) || repo === "." || repo === "..") {
    return (
      `the repository must be a GitHub repository name (letters, digits, '.', '-' and '_', at ` +
      `most 100 characters, not "." or ".."), got ${JSON.stringify(repo)}`
    );
  }
  return undefined;
}

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
  githubRepositoryProblem,
  statusDescription,
  statusPath,
  postCommitStatus,
};
