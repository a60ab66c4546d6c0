// GitHub commit statuses, as the pipeline's commit-status step and the revision tester post
// them: https://docs.github.com/rest/commits/statuses#create-a-commit-status
"use strict";

const { httpRequest } = require("./http");

const DEFAULT_GITHUB_API_URL = "https://api.github.com";
/** GitHub refuses a longer description. */
const MAX_DESCRIPTION_LENGTH = 140;
/** `<owner>/<repository>`, as GitHub spells full names (see githubRepositoryProblem too). */
const REPO_FULL_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
/** GitHub's rules for account (user and organization) names and for repository names; an
 * account name has no two hyphens in a row. */
const GITHUB_OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*$/;
const MAX_OWNER_LENGTH = 39;
const GITHUB_REPOSITORY = /^[A-Za-z0-9._-]+$/;
const MAX_REPOSITORY_LENGTH = 100;

/**
 * What is wrong with `owner`/`repository` as GitHub names them, or undefined when both are
 * valid. `.` and `..` are refused: in an API path they would name another resource
 * (`/repos/../x` is `/x`), so a status would go somewhere else.
 */
function githubRepositoryProblem(owner, repository) {
  const shown = (value) => JSON.stringify(String(value));
  if (typeof owner !== "string" || owner.length === 0 || owner.length > MAX_OWNER_LENGTH) {
    return `owner ${shown(owner)} is not a GitHub account name: it must be 1 to ${MAX_OWNER_LENGTH} characters`;
  }
  if (!GITHUB_OWNER.test(owner)) {
    return (
      `owner ${shown(owner)} is not a GitHub account name: only A-Z, a-z, 0-9 and "-" (never ` +
      `two in a row), and it must not start or end with "-"`
    );
  }
  if (
    typeof repository !== "string" ||
    repository.length === 0 ||
    repository.length > MAX_REPOSITORY_LENGTH
  ) {
    return `repository ${shown(repository)} is not a GitHub repository name: it must be 1 to ${MAX_REPOSITORY_LENGTH} characters`;
  }
  if (repository === "." || repository === "..") {
    return `repository ${shown(repository)} is not a repository name ("." and ".." are not allowed)`;
  }
  if (!GITHUB_REPOSITORY.test(repository)) {
    return `repository ${shown(repository)} is not a GitHub repository name: only A-Z, a-z, 0-9, ".", "_" and "-"`;
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
