// A canary as a GitHub Deployment: the candidate's commit deployed to the stack's environment,
// with a status at every step (deploymentStatus.ts says which). Four REST calls, by hand with
// fetch: a client library would bring pagination, retries and throttling we do not use, and its
// own dependencies, for a handful of requests a command makes.
//
// Nothing here throws at the caller: GitHub being unreachable must never change traffic, so each
// post comes back as an outcome that the command reports (stderr and --json), not as an error.
import { isHeaderSafeToken } from "../common/httpHeaders";
import type { DeploymentStatusUpdate } from "./deploymentStatus";
import { errorMessage } from "./errors";
import { stackShortName } from "./project";

/** Where deployments are recorded, from the stack's config (config.ts, githubDeployments). */
export interface GithubDeploymentTarget {
  /** The REST API's root, without a trailing slash. */
  readonly apiUrl: string;
  readonly owner: string;
  readonly repository: string;
  readonly environment: string;
  /** Sent as the Authorization header only; never printed. */
  readonly token: string;
  /** The stack whose canaries these are: in each deployment's payload, to find it again. */
  readonly stack: string;
}

/** The revision a deployment is of. */
export interface CanaryCandidate {
  readonly revision: string;
  /** The full commit SHA it was built from (the pipeline's Revision annotation). */
  readonly commit: string;
  readonly app: string;
  readonly namespace: string;
}

/**
 * What a canary deployment carries to be found again: the stack by its own name (`prod`, the
 * same whether `--stack prod` or `--stack org/canary-release/prod` was typed), the app, its
 * namespace and the revision.
 */
export function deploymentPayload(
  target: Pick<GithubDeploymentTarget, "stack">,
  candidate: CanaryCandidate,
): Readonly<Record<string, string>> {
  return {
    stack: stackShortName(target.stack),
    app: candidate.app,
    namespace: candidate.namespace,
    revision: candidate.revision,
  };
}

/** The `task` of every canary deployment: how they are told from other deployments. */
export const DEPLOYMENT_TASK = "deploy:canary";
/** How long one request to GitHub may take. */
export const GITHUB_TIMEOUT_MS = 10_000;
/** Latest statuses that mean a deployment is still going: its next status continues it. */
const ACTIVE_STATES: readonly string[] = ["in_progress", "queued", "pending"];

export interface GithubClientOptions {
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

interface DeploymentJson {
  readonly id: number;
  readonly payload?: unknown;
}

/** A request GitHub refused or did not answer, said with what to check. */
export class GithubApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "GithubApiError";
  }
}

/** The four Deployments API calls the canary command makes. */
export class GithubDeploymentsClient {
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(
    readonly target: GithubDeploymentTarget,
    options: GithubClientOptions = {},
  ) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? GITHUB_TIMEOUT_MS;
  }

  private get repoPath(): string {
    const { owner, repository } = this.target;
    return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repository)}`;
  }

  /** This stack's canary deployments of `commit` to the environment, newest first. */
  async listDeployments(commit: string): Promise<DeploymentJson[]> {
    const query = new URLSearchParams({
      sha: commit,
      environment: this.target.environment,
      task: DEPLOYMENT_TASK,
      per_page: "100",
    });
    const found = await this.request("GET", `${this.repoPath}/deployments?${query}`);
    if (!Array.isArray(found))
      throw new GithubApiError("GitHub answered a list of deployments with something else");
    return found.filter(
      (item): item is DeploymentJson =>
        typeof item === "object" && item !== null && typeof item.id === "number",
    );
  }

  /** The state of a deployment's latest status; undefined when it has none. */
  async latestState(deploymentId: number): Promise<string | undefined> {
    const statuses = await this.request(
      "GET",
      `${this.repoPath}/deployments/${deploymentId}/statuses?per_page=1`,
    );
    const first: unknown = Array.isArray(statuses) ? statuses[0] : undefined;
    const state = (first as { state?: unknown } | undefined)?.state;
    return typeof state === "string" ? state : undefined;
  }

  async createDeployment(candidate: CanaryCandidate): Promise<number> {
    const payload = deploymentPayload(this.target, candidate);
    const created = await this.request("POST", `${this.repoPath}/deployments`, {
      ref: candidate.commit,
      task: DEPLOYMENT_TASK,
      // A canary deploys a commit that is built already: never merge the default branch into
      // it, and do not wait for its commit statuses (the stack's candidate gate judges it).
      auto_merge: false,
      required_contexts: [],
      environment: this.target.environment,
      description: `canary of ${candidate.revision} (stack ${payload.stack})`,
      transient_environment: false,
      payload,
    });
    const id = (created as { id?: unknown } | undefined)?.id;
    if (typeof id !== "number") {
      throw new GithubApiError(
        `GitHub did not create the deployment of ${candidate.commit}: ${describeBody(created)}`,
      );
    }
    return id;
  }

  async createStatus(deploymentId: number, update: DeploymentStatusUpdate): Promise<void> {
    await this.request("POST", `${this.repoPath}/deployments/${deploymentId}/statuses`, {
      state: update.state,
      description: update.description,
      environment: this.target.environment,
      ...(update.environmentUrl !== undefined ? { environment_url: update.environmentUrl } : {}),
      ...(update.logUrl !== undefined ? { log_url: update.logUrl } : {}),
      // GitHub marks the environment's earlier successful deployments inactive on a success:
      // the promoted candidate replaces the stable one there.
      ...(update.state === "success" ? { auto_inactive: true } : {}),
    });
  }

  private async request(method: "GET" | "POST", path: string, body?: object): Promise<unknown> {
    const url = `${this.target.apiUrl}${path}`;
    const what = `${method} ${path.split("?")[0]}`;
    // fetch would refuse it quoting the whole header, token included.
    if (!isHeaderSafeToken(this.target.token)) {
      throw new GithubApiError(
        `${what}: not sent: the token is not one line of visible characters (its value is not shown)`,
      );
    }
    try {
      return await this.send(method, url, what, body);
    } catch (error) {
      // A backstop: whatever went wrong, its message never carries the token.
      if (error instanceof Error && error.message.includes(this.target.token)) {
        throw new GithubApiError(error.message.split(this.target.token).join("<token>"));
      }
      throw error;
    }
  }

  private async send(
    method: "GET" | "POST",
    url: string,
    what: string,
    body?: object,
  ): Promise<unknown> {
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers: {
          Accept: "application/vnd.github+json",
          Authorization: `Bearer ${this.target.token}`,
          "X-GitHub-Api-Version": "2022-11-28",
          "User-Agent": "canary-release",
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && error.name === "TimeoutError";
      throw new GithubApiError(
        timedOut
          ? `${what}: no answer from ${this.target.apiUrl} within ${this.timeoutMs / 1000} s`
          : `${what}: cannot reach ${this.target.apiUrl}: ${causeOf(error)}`,
      );
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new GithubApiError(`${what}: the answer was cut off: ${causeOf(error)}`);
    }
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      throw new GithubApiError(
        `${what}: HTTP ${response.status} ${describeBody(parsed ?? text)}` +
          statusHint(response.status, this.target),
        response.status,
      );
    }
    if (parsed === undefined) {
      throw new GithubApiError(`${what}: HTTP ${response.status} but no JSON in the answer`);
    }
    return parsed;
  }
}

/** What to check for a refusal GitHub explains poorly. */
function statusHint(status: number, target: GithubDeploymentTarget): string {
  const repo = `${target.owner}/${target.repository}`;
  switch (status) {
    case 401:
      return " (the token was refused: is it current?)";
    case 403:
      return ` (the token may not write deployments of ${repo}: fine-grained tokens need the repository's Deployments read and write, classic ones repo_deployment)`;
    case 404:
      return ` (no repository ${repo} that the token can see)`;
    default:
      return "";
  }
}

/** GitHub's error body as one line: `message: errors…`. */
function describeBody(body: unknown): string {
  if (typeof body === "string") return body.trim().slice(0, 300);
  if (typeof body !== "object" || body === null) return String(body);
  const { message, errors } = body as { message?: unknown; errors?: unknown };
  const details = Array.isArray(errors)
    ? errors
        .map((e) =>
          typeof e === "object" && e !== null && "message" in e
            ? String((e as { message: unknown }).message)
            : JSON.stringify(e),
        )
        .join("; ")
    : "";
  const text = typeof message === "string" ? message : JSON.stringify(body).slice(0, 300);
  return details === "" ? text : `${text}: ${details}`;
}

/** Node's fetch says `fetch failed`; the reason is in its cause. */
function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return code;
  return cause !== undefined ? errorMessage(cause) : errorMessage(error);
}

/** What posting one status came to. */
export type RecordOutcome =
  | {
      readonly ok: true;
      readonly deploymentId: number;
      /** True when this post created the deployment. */
      readonly created: boolean;
      /** Set when nothing was posted, and why: another command ended the deployment. */
      readonly skipped?: string;
      readonly update: DeploymentStatusUpdate;
    }
  | { readonly ok: false; readonly update: DeploymentStatusUpdate; readonly error: string };

/**
 * The statuses of one candidate's deployment, posted in order. The deployment is found once per
 * process: this stack's newest deployment of the commit to the environment, if its latest status
 * is still going (a `canary start` before this `canary step`); else one is created (a new canary
 * of the same candidate after a rollback is a new deployment). Each later status first checks
 * that the deployment is still going: another command may have ended it during a rollout. A
 * failed post is tried again from the start by the next one, so a GitHub that comes back
 * mid-rollout gets the rest.
 */
export class CandidateDeployment {
  private deploymentId: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: GithubDeploymentsClient,
    readonly candidate: CanaryCandidate,
    /** False: post only to a deployment still going, create none (a replaced candidate's). */
    private readonly createIfMissing = true,
  ) {}

  /** Posts `update` after the posts before it; never rejects. */
  record(update: DeploymentStatusUpdate): Promise<RecordOutcome | undefined> {
    const next = this.queue.then(() => this.post(update));
    this.queue = next;
    return next;
  }

  private async post(update: DeploymentStatusUpdate): Promise<RecordOutcome | undefined> {
    let outcome: RecordOutcome | undefined;
    try {
      let created = false;
      if (this.deploymentId === undefined) {
        this.deploymentId = await this.findGoing();
        if (this.deploymentId === undefined) {
          if (!this.createIfMissing) return undefined;
          this.deploymentId = await this.client.createDeployment(this.candidate);
          created = true;
        }
      } else {
        // A long rollout's deployment may have been ended meanwhile by another command (a
        // rollback by hand): a later in_progress must not reopen it.
        const state = await this.client.latestState(this.deploymentId);
        if (state !== undefined && !ACTIVE_STATES.includes(state)) {
          outcome = {
            ok: true,
            deploymentId: this.deploymentId,
            created,
            skipped: `another command ended deployment ${this.deploymentId} (${state}) meanwhile`,
            update,
          };
        }
      }
      if (outcome === undefined) {
        await this.client.createStatus(this.deploymentId, update);
        outcome = { ok: true, deploymentId: this.deploymentId, created, update };
      }
    } catch (error) {
      outcome = { ok: false, update, error: errorMessage(error) };
    }
    return outcome;
  }

  private async findGoing(): Promise<number | undefined> {
    const expected = deploymentPayload(this.client.target, this.candidate);
    const ours = (await this.client.listDeployments(this.candidate.commit)).find((deployment) => {
      const payload = deployment.payload as Record<string, unknown> | undefined;
      return Object.entries(expected).every(([key, value]) => payload?.[key] === value);
    });
    if (ours === undefined) return undefined;
    const state = await this.client.latestState(ours.id);
    return state === undefined || ACTIVE_STATES.includes(state) ? ours.id : undefined;
  }
}
