// Where a stack's canaries are recorded as GitHub Deployments and of which commit: the stack's
// config (judged by config.ts) says the repository, the environment and the token; the cluster's
// Revision says the commit (the pipeline's annotation); the stack outputs say the URLs.
import { parseConfig } from "../config";
import { openStackCluster, readRevisions, type OpenCluster } from "./clusterStatus";
import {
  reachableUrl,
  statusForCommand,
  statusForReplaced,
  type DeploymentStatusUpdate,
  type DeploymentUrls,
} from "./deploymentStatus";
import { errorMessage } from "./errors";
import {
  CandidateDeployment,
  GithubDeploymentsClient,
  type GithubClientOptions,
  type GithubDeploymentTarget,
  type RecordOutcome,
} from "./githubDeployments";
import type { ChangeResult } from "./operations";
import { stackShortName } from "./project";
import { CONFIG_KEYS, type StackDriver } from "./stackDriver";

/** The stack's deployment settings with their token, or why none are recorded. */
export type DeploymentSettings =
  | {
      readonly target: GithubDeploymentTarget;
      readonly app: string;
      readonly namespace: string;
      /** The stack's candidate as its config says now (after the command's change). */
      readonly candidateRevision?: string;
    }
  | { readonly off: true }
  | { readonly notRecorded: string };

/**
 * Reads the stack's config (one read) as the program judges it; `off` when deployments are not
 * set up, so a stack without them pays nothing more.
 */
export async function deploymentSettingsOf(driver: StackDriver): Promise<DeploymentSettings> {
  const { values, secretKeys } = await driver.getAllConfig();
  let config;
  try {
    config = parseConfig(values, secretKeys);
  } catch (error) {
    return { notRecorded: `the stack's config is invalid: ${errorMessage(error)}` };
  }
  const settings = config.githubDeployments;
  if (settings === undefined || config.github === undefined) return { off: true };
  const token = values[settings.tokenKey];
  if (token === undefined || token === "") {
    return { notRecorded: `${settings.tokenKey} has no value` };
  }
  return {
    target: {
      apiUrl: settings.apiUrl,
      owner: config.github.owner,
      repository: config.github.repository,
      // `org/project/prod` is stack prod's environment too.
      environment: settings.environment ?? stackShortName(driver.stackName),
      token,
      stack: driver.stackName,
    },
    app: config.app,
    namespace: config.namespace,
    ...(config.candidateRevision !== undefined
      ? { candidateRevision: config.candidateRevision }
      : {}),
  };
}

/** The URLs the deployed outputs give a person, where reachable from outside the cluster. */
export function deploymentUrlsOf(outputs: Readonly<Record<string, unknown>>): DeploymentUrls {
  const urls = outputs.urls;
  const candidate =
    typeof urls === "object" && urls !== null
      ? reachableUrl((urls as Record<string, unknown>).candidate)
      : undefined;
  const production = reachableUrl(outputs.url);
  return {
    ...(candidate !== undefined ? { candidate } : {}),
    ...(production !== undefined ? { production } : {}),
  };
}

export interface OpenedDeployments {
  /** One per revision asked for that has a commit; in the order asked. */
  readonly deployments: ReadonlyMap<string, CandidateDeployment>;
  /** Revisions whose deployment cannot be recorded, and why. */
  readonly notRecorded: ReadonlyMap<string, string>;
}

/**
 * The deployments of `revisions` (the candidate; for `canary start`, the candidate it replaces
 * too, with `createIfMissing` false). Reading the cluster may fail: each revision then says why
 * it is not recorded.
 */
export async function openCandidateDeployments(
  driver: StackDriver,
  openCluster: OpenCluster,
  settings: Exclude<DeploymentSettings, { readonly off: true }>,
  revisions: readonly { readonly revision: string; readonly createIfMissing: boolean }[],
  options: GithubClientOptions = {},
): Promise<OpenedDeployments> {
  const notRecorded = new Map<string, string>();
  const deployments = new Map<string, CandidateDeployment>();
  if ("notRecorded" in settings) {
    for (const { revision } of revisions) notRecorded.set(revision, settings.notRecorded);
    return { deployments, notRecorded };
  }
  let commits: Map<string, string | null>;
  try {
    const cluster = await openStackCluster(driver, openCluster);
    const { rows } = await readRevisions(cluster, settings);
    commits = new Map(rows.map((row) => [row.name, row.commit]));
  } catch (error) {
    for (const { revision } of revisions) {
      notRecorded.set(revision, `its commit was not read from the cluster: ${errorMessage(error)}`);
    }
    return { deployments, notRecorded };
  }
  const client = new GithubDeploymentsClient(settings.target, options);
  for (const { revision: name, createIfMissing } of revisions) {
    const commit = commits.get(name);
    // Marking a replaced candidate is a courtesy: no Revision, no commit, nothing to say.
    if (!createIfMissing && (commit === undefined || commit === null)) continue;
    if (commit === undefined) {
      notRecorded.set(name, `there is no Revision ${name} in namespace ${settings.namespace}`);
    } else if (commit === null) {
      notRecorded.set(
        name,
        `Revision ${name} has no canary-release.dev/commit annotation (the pipeline did not ` +
          `build it): no commit to record a deployment of`,
      );
    } else {
      const candidate = {
        revision: name,
        commit,
        app: settings.app,
        namespace: settings.namespace,
      };
      deployments.set(name, new CandidateDeployment(client, candidate, createIfMissing));
    }
  }
  return { deployments, notRecorded };
}

/** One status a command posts, to the deployment of `revision`. */
export interface DeploymentPost {
  readonly revision: string;
  /** False: only to a deployment still going (a replaced candidate's); none is created. */
  readonly createIfMissing: boolean;
  readonly status: (urls: DeploymentUrls) => DeploymentStatusUpdate;
}

export type ChangeKind = "start" | "step" | "promote" | "rollback";

/**
 * What a change that moved traffic posts (postDeployments posts nothing for one that was only
 * written, or changed nothing): `start` an in_progress status of the new candidate
 * (and `inactive` on the one it replaced, if that one's deployment is still going), `step` an
 * in_progress status with the percent, `promote` success, `rollback` failure (only from a
 * share above 0, and only to a deployment still going). `candidate` is the stack's candidate
 * after the change (rollback and step keep it).
 */
export function deploymentPostsFor(
  kind: ChangeKind,
  result: ChangeResult,
  candidate: string | undefined,
): DeploymentPost[] {
  // Unset is config.ts's default, 0.
  const percentBefore = (): number => Number(result.previous[CONFIG_KEYS.canaryPercent] ?? 0);
  switch (kind) {
    case "start": {
      const started = result.change[CONFIG_KEYS.candidateRevision];
      if (started === undefined) return [];
      const replaced = result.previous[CONFIG_KEYS.candidateRevision];
      return [
        {
          revision: started,
          createIfMissing: true,
          status: (urls) => statusForCommand({ kind: "start", percent: 0 }, urls),
        },
        ...(replaced !== undefined && replaced !== started
          ? [
              {
                revision: replaced,
                createIfMissing: false,
                status: () => statusForReplaced(started),
              },
            ]
          : []),
      ];
    }
    case "step": {
      const percent = Number(result.change[CONFIG_KEYS.canaryPercent]);
      if (candidate === undefined) return [];
      const from = percentBefore();
      return [
        {
          revision: candidate,
          createIfMissing: true,
          status: (urls) => statusForCommand({ kind: "step", percent, from }, urls),
        },
      ];
    }
    case "promote": {
      const promoted = result.change[CONFIG_KEYS.stableRevision];
      if (promoted === undefined) return [];
      const from = percentBefore();
      return [
        {
          revision: promoted,
          createIfMissing: true,
          status: (urls) => statusForCommand({ kind: "promote", from }, urls),
        },
      ];
    }
    case "rollback": {
      const from = percentBefore();
      // From 0 % no traffic moved: the canary is not over, the candidate stays.
      if (candidate === undefined || from === 0) return [];
      return [
        {
          revision: candidate,
          // It ends the deployment that is going; a deployment that only ever held its
          // failure would say nothing (a second rollback, one after a failed rollout).
          createIfMissing: false,
          status: (urls) => statusForCommand({ kind: "rollback", from }, urls),
        },
      ];
    }
  }
}

/** What the command reports of its GitHub deployments (--json: `githubDeployments`). */
export interface DeploymentsReport {
  readonly posted: readonly {
    readonly revision: string;
    readonly ok: boolean;
    readonly deploymentId?: number;
    readonly created?: boolean;
    /** Nothing was posted, and why (another command ended the deployment). */
    readonly skipped?: string;
    readonly state: string;
    readonly description: string;
    readonly environmentUrl?: string;
    readonly logUrl?: string;
    readonly error?: string;
  }[];
  readonly notRecorded: readonly { readonly revision: string; readonly reason: string }[];
}

/** An outcome as the report's entry. */
export function reportEntry(
  revision: string,
  outcome: RecordOutcome,
): DeploymentsReport["posted"][number] {
  const { update } = outcome;
  return {
    revision,
    ok: outcome.ok,
    ...(outcome.ok ? { deploymentId: outcome.deploymentId, created: outcome.created } : {}),
    ...(outcome.ok && outcome.skipped !== undefined ? { skipped: outcome.skipped } : {}),
    state: update.state,
    description: update.description,
    ...(update.environmentUrl !== undefined ? { environmentUrl: update.environmentUrl } : {}),
    ...(update.logUrl !== undefined ? { logUrl: update.logUrl } : {}),
    ...(!outcome.ok ? { error: outcome.error } : {}),
  };
}

export interface DeploymentOptions extends GithubClientOptions {
  readonly onOutcome?: (revision: string, outcome: RecordOutcome) => void;
  readonly onNotRecorded?: (revision: string, reason: string) => void;
}

/**
 * Posts what a deployed change says (deploymentPostsFor), in order; undefined when the stack
 * records no deployments. Never throws for GitHub or the cluster: those land in the report.
 */
export async function postDeployments(
  driver: StackDriver,
  openCluster: OpenCluster,
  kind: ChangeKind,
  result: ChangeResult,
  options: DeploymentOptions = {},
): Promise<DeploymentsReport | undefined> {
  // Written only (--no-up), or nothing to change: no traffic moved, nothing to tell GitHub.
  if (result.unchanged === true || result.summary === undefined) return undefined;
  const settings = await deploymentSettingsOf(driver);
  if ("off" in settings) return undefined;
  const candidate = "target" in settings ? settings.candidateRevision : undefined;
  const posts = deploymentPostsFor(kind, result, candidate);
  if (posts.length === 0) return undefined;
  const opened = await openCandidateDeployments(driver, openCluster, settings, posts, options);
  const posted: DeploymentsReport["posted"][number][] = [];
  const notRecorded: { revision: string; reason: string }[] = [];
  for (const [revision, reason] of opened.notRecorded) {
    notRecorded.push({ revision, reason });
    options.onNotRecorded?.(revision, reason);
  }
  const urls = deploymentUrlsOf(await driver.outputs());
  for (const post of posts) {
    const outcome = await opened.deployments.get(post.revision)?.record(post.status(urls));
    if (outcome === undefined) continue;
    posted.push(reportEntry(post.revision, outcome));
    options.onOutcome?.(post.revision, outcome);
  }
  return { posted, notRecorded };
}

/** The deployment of one candidate through a rollout: statuses queued as events come. */
export interface DeploymentTracker {
  /** The URLs the statuses may carry, from the outputs when the tracker was opened. */
  readonly urls: DeploymentUrls;
  /** Queues a status after the ones before it (undefined: nothing to post); never throws. */
  record(status: DeploymentStatusUpdate | undefined): void;
  /** Waits for the queued posts; undefined when the stack records no deployments. */
  finish(): Promise<DeploymentsReport | undefined>;
}

/**
 * Opens the deployment of the stack's candidate for a rollout. What keeps it from being
 * recorded is said at its first status, not before: a rollout refused before it moves traffic
 * posts nothing and so has nothing to say.
 */
export async function trackDeployment(
  driver: StackDriver,
  openCluster: OpenCluster,
  options: DeploymentOptions = {},
): Promise<DeploymentTracker> {
  let opened: OpenedDeployments | undefined;
  let revision: string | undefined;
  let urls: DeploymentUrls = {};
  try {
    const settings = await deploymentSettingsOf(driver);
    revision =
      "target" in settings
        ? settings.candidateRevision
        : "notRecorded" in settings
          ? "the candidate"
          : undefined;
    if (!("off" in settings) && revision !== undefined) {
      const asked = [{ revision, createIfMissing: true }];
      opened = await openCandidateDeployments(driver, openCluster, settings, asked, options);
      urls = deploymentUrlsOf(await driver.outputs());
    }
  } catch (error) {
    revision ??= "the candidate";
    opened = { deployments: new Map(), notRecorded: new Map([[revision, errorMessage(error)]]) };
  }
  const deployment = revision !== undefined ? opened?.deployments.get(revision) : undefined;
  const posted: DeploymentsReport["posted"][number][] = [];
  const notRecorded: { revision: string; reason: string }[] = [];
  const pending: Promise<unknown>[] = [];
  return {
    urls,
    record(status) {
      if (status === undefined || opened === undefined || revision === undefined) return;
      if (deployment === undefined) {
        const reason = opened.notRecorded.get(revision);
        if (reason !== undefined && notRecorded.length === 0) {
          notRecorded.push({ revision, reason });
          options.onNotRecorded?.(revision, reason);
        }
        return;
      }
      const shown = revision;
      pending.push(
        deployment.record(status).then((outcome) => {
          if (outcome === undefined) return;
          posted.push(reportEntry(shown, outcome));
          options.onOutcome?.(shown, outcome);
        }),
      );
    },
    async finish() {
      await Promise.all(pending);
      return opened === undefined ? undefined : { posted, notRecorded };
    },
  };
}
