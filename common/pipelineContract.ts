// The names the build Pipeline and the GitHub trigger agree on. The TriggerTemplate creates a
// PipelineRun that must pass exactly the params and bind exactly the workspaces the Pipeline
// declares; keeping the names in one place makes a mismatch a compile error, and the Tekton
// admission checks in the tests catch the rest.

/** Params of the app's Pipeline (`<app>-build-deploy`), each supplied by the GitHub trigger. */
export const PIPELINE_PARAMS = Object.freeze({
  /** Clone URL of the repository (`body.repository.clone_url`). */
  repoUrl: "repo-url",
  /** `<owner>/<repository>` (`body.repository.full_name`), for commit statuses. */
  repoFullName: "repo-full-name",
  /** Full 40-character commit SHA that was pushed (`body.after`). */
  revision: "revision",
  /** First 7 characters of the SHA: the revision is named `<app>-<short-sha>`. */
  shortSha: "short-sha",
  /**
   * Commit timestamp, ISO 8601 (`body.head_commit.timestamp`), recorded on the revision for
   * information only: deploys follow push order (the PipelineRuns' creation), not commit dates.
   */
  commitTimestamp: "commit-timestamp",
} as const);

/** Workspaces of the Pipeline. */
export const PIPELINE_WORKSPACES = Object.freeze({
  /** The cloned source; a volumeClaimTemplate per PipelineRun. */
  source: "source",
  /** The registry's docker config (`config.json`), a Secret; optional for anonymous registries. */
  dockerConfig: "dockerconfig",
} as const);

/** Results of the Pipeline. */
export const PIPELINE_RESULTS = Object.freeze({
  imageDigest: "image-digest",
  revisionName: "revision-name",
} as const);

/** Key of the GitHub status token in its Secret (`testerGithubToken`). */
export const GITHUB_TOKEN_SECRET_KEY = "token";

/** Annotations the pipeline writes on each revision template (read by the revision tester). */
export const REVISION_ANNOTATIONS = Object.freeze({
  commit: "canary-release.dev/commit",
  repository: "canary-release.dev/repository",
  commitTimestamp: "canary-release.dev/commit-timestamp",
} as const);

/**
 * Names of the namespaced resources the pipeline and the trigger refer to each other by. Every
 * name starts with the app: the content of these objects is the app's (its repository, image,
 * Configuration), so two apps in one namespace must never share one. The longest suffix is
 * 14 characters, as long as `-<sha7>-smoke`, so config.ts's limit on `app` keeps every name
 * within the 63 characters Tekton allows.
 */
export function pipelineResourceNames(app: string): {
  readonly pipeline: string;
  readonly tasks: {
    readonly fetchSource: string;
    readonly buildImage: string;
    readonly deployRevision: string;
    readonly commitStatus: string;
  };
  readonly pipelineServiceAccount: string;
  readonly registrySecret: string;
  readonly statusTokenSecret: string;
} {
  return {
    pipeline: `${app}-build-deploy`,
    tasks: {
      fetchSource: `${app}-fetch-source`,
      buildImage: `${app}-build-image`,
      deployRevision: `${app}-deploy`,
      commitStatus: `${app}-commit-status`,
    },
    pipelineServiceAccount: `${app}-pipeline`,
    registrySecret: `${app}-registry`,
    statusTokenSecret: `${app}-github-status`,
  };
}
