// The `canary` command: arguments (commander), output for people and for tools (--json), exit
// codes, the stack file under git, and Ctrl-C. Decisions live in operations.ts and rollout.ts.
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import * as fs from "fs";
import * as path from "path";
import { parseWholeNumber, WHOLE_NUMBER_KEYS, wholeNumberRule } from "../config";
import type { AnalysisResult, MetricsScheme } from "./analysisTypes";
import {
  analyseCanary,
  DEFAULT_SAMPLE_INTERVAL,
  DEFAULT_SIGNIFICANCE,
  preflightCanary,
  type CanaryAnalysisOptions,
  type PreflightOptions,
  type PreflightResult,
} from "./canaryAnalysis";
import {
  BUILT_IN_NAMES,
  loadMetricsFile,
  MetricSetError,
  type BuiltInCriteria,
  type MetricSet,
} from "./metricSet";
import { CanaryRefusedError, errorMessage, exitCodeOf } from "./errors";
import { EXIT_CODES_HELP, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED } from "./exitCodes";
import { commitStackFile, isGitCheckout, stackFileDiff } from "./git";
import { formatRevisions, formatTraffic, resolveRevision, smokeTestSummary } from "./canaryView";
import { openCluster } from "./cluster";
import {
  postDeployments,
  trackDeployment,
  type ChangeKind,
  type DeploymentsReport,
  type DeploymentTracker,
} from "./canaryDeployments";
import { metricUnits, statusForRolloutEvent, statusForRolloutReport } from "./deploymentStatus";
import type { RecordOutcome } from "./githubDeployments";
import {
  openStackCluster,
  readLiveStatus,
  readRevisions,
  readTagHeaderRouting,
  refuseWhileDrifted,
  type LiveStatus,
  type OpenCluster,
} from "./clusterStatus";
import {
  promoteCandidate,
  readCanaryConfig,
  readStatus,
  rollbackCanary,
  setCanaryPercent,
  startCandidate,
  type CanaryStatus,
  type ChangeResult,
  type CommandOptions,
} from "./operations";
import { readFileIfExists, resolveProjectDir, stackFilePath } from "./project";
import {
  readRolloutRecord,
  renderReportHtml,
  rolloutRecord,
  writeRolloutReport,
} from "./rolloutReport";
import {
  DEFAULT_MAX_INCONCLUSIVE,
  rolloutExitCode,
  runRollout,
  stepsProblems,
  type RolloutEvent,
  type RolloutReport,
} from "./rollout";
import {
  openPulumiStack,
  withConcurrentUpdateRetries,
  type OpenStackOptions,
  type RetryPolicy,
  type StackDriver,
  type UpSummary,
} from "./stackDriver";
import { DEFAULT_LOCK_WAIT_MS, LOCK_WAIT_ENV } from "./stackLock";
import { formatDuration, parseDuration, promqlDuration, realSleep, type Sleep } from "./time";

/** Default of `--min-requests`: below it, a window says too little to judge. */
export const DEFAULT_MIN_REQUESTS = 50;
export const DEFAULT_INTERVAL = "5m";
/** Default of `status --watch --interval`. */
export const DEFAULT_WATCH_INTERVAL = "2s";
/** Default of `--success-margin`, percentage points. */
export const DEFAULT_SUCCESS_MARGIN = 0.5;
/** Default of `--latency-margin`, percent of the stable p99. */
export const DEFAULT_LATENCY_MARGIN = 20;

/** Everything the command reaches outside itself, so tests run it in-process. */
export interface CliDeps {
  /** Where the project directory is searched from (up to the root) without --cwd. */
  readonly cwd: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Opens the stack; called only once the arguments are valid. */
  readonly openStack: (options: OpenStackOptions) => Promise<StackDriver>;
  /** Opens the stack's cluster (its `kubernetes:` config) to read Revisions and the Route. */
  readonly openCluster: OpenCluster;
  readonly analyse: (options: CanaryAnalysisOptions) => Promise<AnalysisResult>;
  /** Before a rollout moves traffic: Prometheus, the queries, the stable revision's series. */
  readonly preflight: (options: PreflightOptions) => Promise<PreflightResult>;
  readonly sleep: Sleep;
  readonly now: () => Date;
  /** stdout is a terminal: `status --watch` redraws the screen instead of appending. */
  readonly isTerminal?: boolean;
  /** Aborted on Ctrl-C: a rollout stops between two actions. */
  readonly signal?: AbortSignal;
  readonly retryPolicy?: RetryPolicy;
  /** How long one request to GitHub may take (default GITHUB_TIMEOUT_MS). */
  readonly githubTimeoutMs?: number;
}

export function defaultCliDeps(signal?: AbortSignal): CliDeps {
  return {
    cwd: process.cwd(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    openStack: openPulumiStack,
    openCluster,
    analyse: analyseCanary,
    preflight: preflightCanary,
    sleep: realSleep,
    now: () => new Date(),
    isTerminal: process.stdout.isTTY === true,
    ...(signal !== undefined ? { signal } : {}),
  };
}

interface CommonFlags {
  readonly stack: string;
  readonly cwd?: string;
  readonly json: boolean;
  readonly verbose: boolean;
}

/** Flags of the commands that change the stack and so take its lock. */
interface LockFlags {
  /** `--lock-wait` (or CANARY_LOCK_WAIT), in milliseconds. */
  readonly lockWait: number;
}

interface ChangeFlags extends CommonFlags, LockFlags {
  readonly commit: boolean;
  /** `--no-up` sets it false. */
  readonly up: boolean;
}

interface RolloutFlags extends CommonFlags, LockFlags {
  readonly commit: boolean;
  readonly steps: number[];
  readonly interval: number;
  readonly window?: number;
  readonly prometheus: string;
  readonly minSuccessRate?: number;
  readonly maxP99Ms?: number;
  /** `--no-compare` sets it false: absolute thresholds only. */
  readonly compare: boolean;
  readonly successMargin: number;
  readonly latencyMargin: number;
  readonly significance: number;
  /** Unset: 30s, or the window when shorter. */
  readonly sampleInterval?: number;
  readonly minRequests: number;
  readonly maxInconclusive: number;
  readonly promote: boolean;
  readonly metrics?: MetricsScheme;
  readonly metricsFile?: string;
  /** A directory for the rollout's record (JSON) and page (HTML). */
  readonly report?: string;
  /** Where that directory is published: the GitHub deployment links to the page there. */
  readonly reportUrl?: string;
}

interface StatusFlags extends CommonFlags {
  readonly watch: boolean;
  /** `--interval` of --watch, in milliseconds. */
  readonly interval: number;
}

interface ReportFlags {
  readonly out?: string;
  readonly json: boolean;
}

// Argument parsers: a bad value stops here, before any stack is opened.

export function parsePercentArgument(text: string): number {
  const { min, max } = WHOLE_NUMBER_KEYS.canaryPercent;
  const percent = parseWholeNumber(text, min, max);
  if (percent === undefined) {
    throw new InvalidArgumentError(`canaryPercent ${wholeNumberRule(min, max)}.`);
  }
  return percent;
}

export function parseStepsArgument(text: string): number[] {
  const parts = text.split(",").map((part) => part.trim());
  const bad = parts.filter((part) => !/^\d+$/.test(part));
  if (bad.length > 0) {
    throw new InvalidArgumentError(
      `steps must be whole percentages separated by commas, e.g. 5,20,50 ` +
        `(not ${bad.map((b) => JSON.stringify(b)).join(", ")}).`,
    );
  }
  const steps = parts.map(Number);
  const problems = stepsProblems(steps);
  if (problems.length > 0) throw new InvalidArgumentError(`${problems.join("; ")}.`);
  return steps;
}

function parseDurationArgument(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1_000) {
    throw new InvalidArgumentError(`must be a duration of at least 1s, like 30s, 2m, 1m30s or 1h.`);
  }
  return ms;
}

/** Longest `--lock-wait`: a command waiting longer than an hour is better run again. */
const MAX_LOCK_WAIT_MS = 3_600_000;

export function parseLockWaitArgument(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms > MAX_LOCK_WAIT_MS) {
    throw new InvalidArgumentError(
      `${JSON.stringify(text)} is not a wait: give a duration from 0s to 1h, like 0s (fail at ` +
        `once), 30s or 2m (--lock-wait, or ${LOCK_WAIT_ENV}).`,
    );
  }
  return ms;
}

function numberIn(min: number, max: number, what: string): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${what} must be a number from ${min} to ${max}.`);
    }
    return value;
  };
}

function wholeNumberIn(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
    }
    return Number(text);
  };
}

function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(`must be a URL like http://prometheus:9090.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`must be an http:// or https:// URL.`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new InvalidArgumentError(`must have no query, fragment or credentials.`);
  }
  return text.replace(/\/+$/, "");
}

/** Human progress goes to stdout, or to stderr with --json, where stdout holds one object. */
class Output {
  constructor(
    private readonly deps: CliDeps,
    readonly json: boolean,
    readonly verbose: boolean,
  ) {}

  progress(line: string): void {
    (this.json ? this.deps.stderr : this.deps.stdout)(`${line}\n`);
  }

  /** Pulumi's own output, with --verbose only. */
  get onOutput(): ((text: string) => void) | undefined {
    if (!this.verbose) return undefined;
    return (text) => (this.json ? this.deps.stderr : this.deps.stdout)(text);
  }

  result(value: object): void {
    if (this.json) this.deps.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  error(exitCode: number, message: string, extra: object = {}): number {
    if (this.json) {
      this.deps.stdout(
        `${JSON.stringify({ ok: false, exitCode, error: message, ...extra }, null, 2)}\n`,
      );
    } else {
      this.deps.stderr(`error: ${message}\n`);
    }
    return exitCode;
  }
}

/** What happened to Pulumi.<stack>.yaml, for people and for --json. */
interface StackFileReport {
  readonly path: string;
  readonly changed: boolean;
  readonly gitCheckout: boolean;
  readonly diff?: string;
  readonly commit?: string;
}

interface Session {
  readonly output: Output;
  readonly projectDir: string;
  readonly stackFile: string;
  readonly gitCheckout: boolean;
  readonly before: string | undefined;
}

/** Checks what can be checked without the stack; refuses --commit outside a git checkout. */
async function startSession(
  flags: CommonFlags & { commit?: boolean },
  deps: CliDeps,
  output: Output,
): Promise<Session> {
  const projectDir = resolveProjectDir(flags.cwd, deps.cwd);
  const stackFile = stackFilePath(projectDir, flags.stack);
  const gitCheckout = await isGitCheckout(projectDir);
  if (flags.commit === true && !gitCheckout) {
    throw new CanaryRefusedError(
      `--commit: ${projectDir} is not a git checkout, there is nothing to commit to`,
    );
  }
  const before = readFileIfExists(stackFile);
  if (before === undefined) {
    // Checked before Pulumi is asked: its "no stack named ..." reads like a failure of the CLI.
    const stacks = fs
      .readdirSync(projectDir)
      .map((name) => /^Pulumi\.(.+)\.yaml$/.exec(name)?.[1])
      .filter((name): name is string => name !== undefined)
      .sort();
    throw new CanaryRefusedError(
      `unknown stack ${flags.stack}: there is no ${path.basename(stackFile)} in ${projectDir}` +
        (stacks.length > 0
          ? ` (stacks with a stack file here: ${stacks.join(", ")})`
          : " (no Pulumi.<stack>.yaml at all: create one with `pulumi stack init <name>`)"),
    );
  }
  return { output, projectDir, stackFile, gitCheckout, before };
}

async function openDriver(
  flags: CommonFlags & Partial<LockFlags>,
  session: Session,
  deps: CliDeps,
) {
  const driver = await deps.openStack({
    stackName: flags.stack,
    workDir: session.projectDir,
    // Only the commands that change the stack take its lock (status reads without it).
    ...(flags.lockWait !== undefined
      ? {
          lockWaitMs: flags.lockWait,
          onLockWait: (holder: string, waitMs: number) =>
            session.output.progress(
              `stack ${flags.stack} is locked by another canary command (${holder}); waiting ` +
                `up to ${formatDuration(waitMs)} for it`,
            ),
        }
      : {}),
  });
  return withConcurrentUpdateRetries(driver, {
    sleep: deps.sleep,
    ...(deps.retryPolicy !== undefined ? { policy: deps.retryPolicy } : {}),
    onRetry: (retry) =>
      session.output.progress(
        `stack ${flags.stack} is busy (another update is in progress): ${retry.operation}, ` +
          `attempt ${retry.attempt + 1}/${retry.attempts} in ${formatDuration(retry.delayMs)}`,
      ),
  });
}

/**
 * After a command: if the stack file changed, show the diff and say it must be committed;
 * with --commit (and a command that did not fail), commit it.
 */
async function finishStackFile(
  session: Session,
  commit: { requested: boolean; allowed: boolean; message: string },
): Promise<StackFileReport> {
  const after = readFileIfExists(session.stackFile);
  const relative = session.stackFile.slice(session.projectDir.length + 1);
  const base = { path: session.stackFile, gitCheckout: session.gitCheckout };
  if (after === session.before) return { ...base, changed: false };
  const out = session.output;
  if (!session.gitCheckout) {
    out.progress(
      `${relative} changed. Keep it with the project (it is not in a git checkout): it holds the ` +
        `stack's config.`,
    );
    return { ...base, changed: true };
  }
  const diff = await stackFileDiff(session.projectDir, session.stackFile);
  out.progress(`${relative} changed:\n${diff.trimEnd()}`);
  if (commit.requested && commit.allowed) {
    const id = await commitStackFile(session.projectDir, session.stackFile, commit.message);
    out.progress(`committed ${id.slice(0, 12)}: ${commit.message}`);
    return { ...base, changed: true, diff, commit: id };
  }
  out.progress(
    commit.requested
      ? `not committed, because the command failed. Commit ${relative} once it says what is deployed.`
      : `Commit ${relative} (or pass --commit): the next reviewed \`pulumi up\` from the ` +
          `repository would otherwise revert this change.`,
  );
  return { ...base, changed: true, diff };
}

function describeSummary(summary: UpSummary | undefined): string {
  const changes = Object.entries(summary?.resourceChanges ?? {})
    .filter(([, count]) => count > 0)
    .map(([op, count]) => `${count} ${op === "same" ? "unchanged" : op}`);
  return changes.length > 0 ? ` (${changes.join(", ")})` : "";
}

/** Maps an error to its exit code and prints it; never hides Pulumi's message. */
function fail(output: Output, error: unknown, extra: object = {}): number {
  if (error instanceof CanaryRefusedError) {
    return output.error(EXIT_REFUSED, `refused: ${error.message}`, extra);
  }
  // Our own errors carry their exit code (a lock held too long, outputs that differ).
  return output.error(exitCodeOf(error) ?? EXIT_ERROR, errorMessage(error), extra);
}

/** The stack's cluster as its provider finds it: a relative kubeconfig from the project. */
function clusterOf(deps: CliDeps, session: Session): OpenCluster {
  return (target) => deps.openCluster({ baseDir: session.projectDir, ...target });
}

/**
 * A change of traffic waits while the Route differs from what the stack deployed (a hand
 * edit): refused with the command that resolves it. Rollback is never held back, and a change
 * only written for review (--no-up) touches no cluster.
 */
function holdOnDrift(
  driver: StackDriver,
  deps: CliDeps,
  session: Session,
  flags: { readonly json: boolean; readonly up?: boolean },
  change: string,
): (() => Promise<void>) | undefined {
  if (flags.up === false) return undefined;
  return async () => {
    const warning = await refuseWhileDrifted(driver, clusterOf(deps, session), change);
    if (warning !== undefined) (flags.json ? deps.stderr : deps.stdout)(`warning: ${warning}\n`);
  };
}

/** Says how each post to GitHub went: progress when recorded, an error line when not. */
function deploymentReporter(output: Output, deps: CliDeps) {
  const notRecorded = (revision: string, reason: string): void =>
    deps.stderr(
      `error: the GitHub deployment of ${revision} was not recorded (traffic is not affected): ${reason}\n`,
    );
  return {
    onOutcome: (revision: string, outcome: RecordOutcome): void => {
      if (!outcome.ok) return notRecorded(revision, outcome.error);
      const { state, description } = outcome.update;
      output.progress(
        `GitHub deployment ${outcome.deploymentId} of ${revision}` +
          (outcome.skipped !== undefined
            ? `: ${state} "${description}" not posted: ${outcome.skipped}`
            : `${outcome.created ? " (created)" : ""}: ${state} "${description}"`),
      );
    },
    onNotRecorded: notRecorded,
    ...(deps.githubTimeoutMs !== undefined ? { timeoutMs: deps.githubTimeoutMs } : {}),
  };
}

/**
 * After a deployed change: its status on the candidate's GitHub Deployment. Whatever happens
 * here is reported and leaves the command's outcome alone: the traffic has changed already.
 */
async function recordChangeDeployments(
  kind: ChangeKind,
  result: ChangeResult,
  driver: StackDriver,
  deps: CliDeps,
  session: Session,
): Promise<DeploymentsReport | undefined> {
  const reporter = deploymentReporter(session.output, deps);
  try {
    return await postDeployments(driver, clusterOf(deps, session), kind, result, reporter);
  } catch (error) {
    reporter.onNotRecorded("the candidate", errorMessage(error));
    return {
      posted: [],
      notRecorded: [{ revision: "the candidate", reason: errorMessage(error) }],
    };
  }
}

async function runChange(
  flags: ChangeFlags,
  deps: CliDeps,
  describe: string,
  kind: ChangeKind,
  action: (driver: StackDriver, options: CommandOptions, session: Session) => Promise<ChangeResult>,
): Promise<number> {
  const output = new Output(deps, flags.json, flags.verbose);
  let session: Session;
  try {
    session = await startSession(flags, deps, output);
  } catch (error) {
    return fail(output, error);
  }
  let result: ChangeResult | undefined;
  let failure: unknown;
  let driver: StackDriver | undefined;
  try {
    driver = await openDriver(flags, session, deps);
    output.progress(
      `stack ${flags.stack}: ${describe}` +
        (flags.up ? " (config, then one pulumi up)" : " (config only, --no-up)"),
    );
    const onOutput = output.onOutput;
    // Every change of traffic but a rollback waits while the Route was edited by hand.
    const beforeChange =
      kind === "rollback" ? undefined : holdOnDrift(driver, deps, session, flags, describe);
    result = await action(
      driver,
      {
        up: flags.up,
        ...(onOutput !== undefined ? { onOutput } : {}),
        ...(beforeChange !== undefined ? { beforeChange } : {}),
      },
      session,
    );
    output.progress(
      result.unchanged === true
        ? result.message
        : flags.up
          ? `done: ${result.message}${describeSummary(result.summary)}`
          : `written, not deployed: ${result.message}. Deploy it with \`pulumi up\` once reviewed.`,
    );
  } catch (error) {
    failure = error;
  }
  let stackFile: StackFileReport | undefined;
  try {
    stackFile = await finishStackFile(session, {
      requested: flags.commit,
      allowed: failure === undefined,
      message: result?.message ?? describe,
    });
  } catch (error) {
    failure ??= error;
  }
  // After the stack file is committed: a slow GitHub never holds back the record of a change.
  const githubDeployments =
    failure === undefined && result !== undefined && driver !== undefined
      ? await recordChangeDeployments(kind, result, driver, deps, session)
      : undefined;
  if (failure !== undefined) return fail(output, failure, { stackFile });
  output.result({
    ok: true,
    exitCode: EXIT_OK,
    stack: flags.stack,
    message: result?.message,
    change: result?.change,
    previous: result?.previous,
    deployed: flags.up && result?.unchanged !== true,
    unchanged: result?.unchanged === true,
    summary: result?.summary ?? null,
    stackFile,
    githubDeployments: githubDeployments ?? null,
  });
  return EXIT_OK;
}

async function runStatus(flags: StatusFlags, deps: CliDeps): Promise<number> {
  const output = new Output(deps, flags.json, flags.verbose);
  let driver: StackDriver;
  let session: Session;
  try {
    session = await startSession(flags, deps, output);
    driver = await openDriver(flags, session, deps);
  } catch (error) {
    return fail(output, error);
  }
  // --watch: one screen (or one JSON line) per refresh, until Ctrl-C; bounded by the signal.
  for (let refresh = 0; ; refresh++) {
    try {
      const status = await readStatus(driver);
      const { app, namespace, stableRevision, candidateRevision } = status.config;
      const live = await readLiveStatus(
        driver,
        {
          app,
          namespace,
          ...(stableRevision !== null ? { stableRevision } : {}),
          ...(candidateRevision !== null ? { candidateRevision } : {}),
        },
        status.traffic,
        clusterOf(deps, session),
      );
      const now = deps.now();
      if (flags.json) {
        const value = { ok: true, exitCode: EXIT_OK, ...status, live, at: now.toISOString() };
        deps.stdout(`${JSON.stringify(value, null, flags.watch ? undefined : 2)}\n`);
      } else {
        const screen = formatStatus(status, live);
        deps.stdout(
          flags.watch
            ? `${refresh > 0 && deps.isTerminal === true ? "\x1b[2J\x1b[H" : refresh > 0 ? "\n" : ""}` +
                `${now.toISOString()}  (every ${formatDuration(flags.interval)}, Ctrl-C to stop)\n${screen}`
            : screen,
        );
      }
    } catch (error) {
      if (!flags.watch) return fail(output, error);
      // A watch outlives one failed read (a busy backend, a cluster restarting): said, not fatal;
      // with --json as a line of the stream too.
      const at = deps.now().toISOString();
      if (flags.json) {
        deps.stdout(
          `${JSON.stringify({ ok: false, exitCode: EXIT_ERROR, error: errorMessage(error), at })}\n`,
        );
      } else {
        output.progress(`${at} status not read: ${errorMessage(error)}`);
      }
    }
    const stopped = (): boolean => deps.signal?.aborted === true;
    if (!flags.watch || stopped()) return EXIT_OK;
    await deps.sleep(flags.interval, deps.signal);
    if (stopped()) return EXIT_OK;
  }
}

function text(value: unknown): string {
  if (value === null || value === undefined) return "-";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function smokeText(smoke: unknown): string {
  if (smoke === null || typeof smoke !== "object") return text(smoke);
  const record = smoke as { state?: unknown; result?: unknown };
  const state = record.state;
  if (state !== "passed" && state !== "failed" && state !== "error" && state !== "untested") {
    return text(smoke);
  }
  const result =
    record.result !== null && typeof record.result === "object"
      ? (record.result as Record<string, unknown>)
      : null;
  return smokeTestSummary({ state, result });
}

export function formatStatus(status: CanaryStatus, live?: LiveStatus): string {
  const shown = status.deployed ?? status.config;
  const lines = [`stack ${status.stack}${status.deployed === null ? " (never deployed)" : ""}`];
  const row = (name: string, value: string): void => {
    lines.push(`  ${name.padEnd(13)} ${value}`);
  };
  row("stable", text(shown.stableRevision));
  row(
    "candidate",
    shown.candidateRevision === null
      ? "-"
      : `${shown.candidateRevision} at ${text(shown.canaryPercent)} %`,
  );
  row("percent", text(shown.canaryPercent));
  if (live?.candidate != null) {
    const candidate = live.candidate;
    row(
      "smoke test",
      `${smokeTestSummary(candidate.smokeTest)}` +
        (candidate.ready ? "" : ` · not Ready: ${candidate.notReady ?? "unknown"}`),
    );
  } else {
    row("smoke test", smokeText(status.candidateSmokeTest));
  }
  row("url", text(status.url));
  if (status.urls !== null && typeof status.urls === "object") {
    for (const [tag, url] of Object.entries(status.urls as Record<string, unknown>)) {
      row(`url ${tag}`, text(url));
    }
  }
  if (status.webhookUrl !== null) row("webhook", text(status.webhookUrl));
  for (const pending of status.pending) {
    row("pending", `${pending} (not deployed yet: \`pulumi up\`)`);
  }
  if (live !== undefined) {
    lines.push("");
    // The reason names the cluster already.
    if (live.notRead !== null) row("cluster", `not read: ${live.notRead}`);
    else if (live.cluster !== null) row("cluster", live.cluster);
    if (live.traffic.routeReady !== null) row("route Ready", live.traffic.routeReady);
    if (live.traffic.rows.length > 0) {
      lines.push("  traffic");
      for (const line of formatTraffic(live.traffic)) lines.push(`    ${line}`);
    }
    if (live.tagHeaderRouting !== null) {
      row("header route", `${live.tagHeaderRouting.state}: ${live.tagHeaderRouting.detail}`);
    }
    if (live.traffic.notCompared !== null && live.notRead === null) {
      row("drift", `not compared: ${live.traffic.notCompared}`);
    } else if (live.notRead === null) {
      if (live.traffic.drift.length === 0)
        row("drift", "none: the cluster serves what the stack deployed");
      for (const drift of live.traffic.drift) row("DRIFT", drift);
    }
  }
  return `${lines.join("\n")}\n`;
}

async function runRevisions(flags: CommonFlags, deps: CliDeps): Promise<number> {
  const output = new Output(deps, flags.json, flags.verbose);
  try {
    const session = await startSession(flags, deps, output);
    const driver = await openDriver(flags, session, deps);
    const config = await readCanaryConfig(driver);
    const cluster = await openStackCluster(driver, clusterOf(deps, session));
    const { rows, route } = await readRevisions(cluster, config);
    if (flags.json) {
      output.result({
        ok: true,
        exitCode: EXIT_OK,
        stack: flags.stack,
        app: config.app,
        namespace: config.namespace,
        cluster: cluster.where,
        route: route === undefined ? null : config.app,
        revisions: rows,
      });
    } else {
      deps.stdout(
        formatRevisions(
          `revisions of ${config.app} in namespace ${config.namespace}, ${cluster.where}, newest ` +
            `first${route === undefined ? " (no Route yet: no live shares)" : ""}`,
          rows,
          deps.now(),
        ),
      );
    }
    return EXIT_OK;
  } catch (error) {
    return fail(output, error);
  }
}

function rolloutProgress(event: RolloutEvent, intervalMs: number, maxInconclusive: number): string {
  switch (event.type) {
    case "plan":
      return (
        `rollout of ${event.candidate}: ${event.from} % -> ${event.steps.join(", ")} %, ` +
        `analysed every ${formatDuration(intervalMs)}`
      );
    case "step":
      return `step ${event.stepIndex + 1}/${event.stepCount}: canaryPercent ${event.percent}, pulumi up...`;
    case "deployed":
      return `  ${event.percent} % deployed${describeSummary(event.summary)}`;
    case "wait":
      return event.reason === "settle"
        ? `  waiting ${formatDuration(event.ms)} (until ${event.until.toISOString()}) before analysing ${event.percent} %`
        : `  holding at ${event.percent} % for ${formatDuration(event.ms)} more (until ` +
            `${event.until.toISOString()}), then analysing again (at most ${maxInconclusive} ` +
            `inconclusive verdicts)`;
    case "analysis":
      return `  analysis at ${event.percent} % (attempt ${event.attempt}): ${event.result.verdict.toUpperCase()}: ${event.result.reason}`;
    case "rollback":
      return `rolling back to 0 %: ${event.reason}`;
    case "rolledBack":
      return `  rolled back: canaryPercent 0 deployed`;
    case "promote":
      return `promoting ${event.candidate}: stableRevision, candidate removed, canaryPercent 0, pulumi up...`;
    case "promoted":
      return `  promoted: ${event.stable} is the stable revision`;
  }
}

function rolloutSummary(report: RolloutReport): string {
  switch (report.status) {
    case "completed":
      return report.promoted
        ? `rollout completed: ${report.candidate} promoted to stable`
        : `rollout completed: ${report.candidate} at ${report.deployedPercent} % ` +
            `(promote it with \`canary promote --stack ${report.stack}\`)`;
    case "rolled-back":
      return `rolled back: ${report.reason}`;
    case "interrupted":
      return `${report.reason}${report.error !== undefined ? `\n${report.error}` : ""}\nContinue with \`canary rollout --steps <above ${report.deployedPercent}>\`, or \`canary rollback\`.`;
    case "failed":
      return `rollout failed: ${report.reason}\n${report.error ?? ""}`;
  }
}

/**
 * Default of `--sample-interval`: a tenth of the window, at least 30 s (a rate needs two scrapes
 * inside each sample; 15 s is a common scrape interval), at most the window.
 */
export function sampleIntervalFor(windowMs: number, given?: number): number {
  if (given !== undefined) return given;
  return Math.min(windowMs, Math.max(MIN_DEFAULT_SAMPLE_MS, Math.round(windowMs / 10_000) * 1_000));
}

const MIN_DEFAULT_SAMPLE_MS = parseDuration(DEFAULT_SAMPLE_INTERVAL) as number;

/**
 * The window of one analysis: `--window`, and when holding after an inconclusive verdict, as
 * many windows as attempts, back to the step's own start at most. A hold then judges all the
 * traffic of the step so far instead of another window of the same size, so it can conclude
 * where one window holds too few requests.
 */
export function analysisWindow(
  windowMs: number,
  request: { readonly attempt: number; readonly at: Date; readonly stepStartedAt: Date },
): number {
  const sinceStep = request.at.getTime() - request.stepStartedAt.getTime();
  return Math.max(windowMs, Math.min(request.attempt * windowMs, sinceStep));
}

/**
 * The metrics file, checked when loaded; or a refusal of flags that judge nothing, and of a step
 * of 100 % when comparing (no stable traffic left to compare with).
 */
function rolloutMetricsFile(flags: RolloutFlags, windowMs: number): MetricSet | undefined {
  if (flags.sampleInterval !== undefined && flags.sampleInterval > windowMs) {
    throw new CanaryRefusedError(
      `--sample-interval ${formatDuration(flags.sampleInterval)} is longer than the analysis ` +
        `window (${formatDuration(windowMs)}, --window or --interval): give a shorter one, e.g. 30s`,
    );
  }
  let fromFile: MetricSet | undefined;
  if (flags.metricsFile !== undefined) {
    try {
      fromFile = loadMetricsFile(flags.metricsFile);
    } catch (error) {
      if (error instanceof MetricSetError) throw new CanaryRefusedError(error.message);
      throw error;
    }
  } else if (
    !flags.compare &&
    (flags.minSuccessRate === undefined || flags.maxP99Ms === undefined)
  ) {
    // Either alone would leave the other metric unjudged: a candidate answering 3 % 5xx would
    // pass on its p99. (A metrics file can judge one metric only, on purpose.)
    throw new CanaryRefusedError(
      "--no-compare judges by absolute thresholds only: give both --min-success-rate and " +
        "--max-p99-ms (or a --metrics-file with the metrics you want judged)",
    );
  }
  const comparing =
    fromFile !== undefined ? fromFile.metrics.some((m) => m.compare !== undefined) : flags.compare;
  if (comparing && flags.steps.includes(100)) {
    throw new CanaryRefusedError(
      `steps ${flags.steps.join(",")}: at 100 % the stable revision serves nothing to compare ` +
        `the candidate with. End the steps below 100 and add --promote (e.g. --steps 5,20,50 ` +
        `--promote), or judge by thresholds only (` +
        (fromFile !== undefined
          ? `${fromFile.source} has a compare; a metrics file without one`
          : "--no-compare with --min-success-rate and --max-p99-ms") +
        `).`,
    );
  }
  return fromFile;
}

async function runRolloutCommand(flags: RolloutFlags, deps: CliDeps): Promise<number> {
  const output = new Output(deps, flags.json, flags.verbose);
  const startedAt = deps.now();
  let analysisNamespace: string | undefined;
  const windowMs = flags.window ?? flags.interval;
  const sampleIntervalMs = sampleIntervalFor(windowMs, flags.sampleInterval);
  let session: Session;
  let fromFile: MetricSet | undefined;
  try {
    if (flags.reportUrl !== undefined && flags.report === undefined) {
      throw new CanaryRefusedError(
        "--report-url says where the --report directory is published: give --report <dir> too",
      );
    }
    fromFile = rolloutMetricsFile(flags, windowMs);
    session = await startSession(flags, deps, output);
  } catch (error) {
    return fail(output, error);
  }
  // The metrics: a file of one's own, or the built-in set of a scheme (detected at preflight
  // when not chosen), judged by the thresholds and margins of the flags.
  let metricSet: MetricSet | undefined;
  const criteria: BuiltInCriteria = {
    ...(flags.minSuccessRate !== undefined ? { minSuccessRate: flags.minSuccessRate } : {}),
    ...(flags.maxP99Ms !== undefined ? { maxP99Ms: flags.maxP99Ms } : {}),
    ...(flags.compare
      ? { successMargin: flags.successMargin, latencyMargin: flags.latencyMargin }
      : {}),
  };
  const common = (
    target: { namespace: string; candidate: string; stable: string; at?: Date },
    window = windowMs,
  ) => ({
    prometheusUrl: flags.prometheus,
    namespace: target.namespace,
    candidate: target.candidate,
    stable: target.stable,
    window: promqlDuration(window),
    sampleInterval: promqlDuration(sampleIntervalFor(window, flags.sampleInterval)),
    ...(target.at !== undefined ? { at: target.at } : {}),
    minRequests: flags.minRequests,
    significance: flags.significance,
  });
  const preflight = async (target: {
    namespace: string;
    candidate: string;
    stable: string;
    at: Date;
  }): Promise<void> => {
    const result = await deps.preflight({
      ...common(target),
      ...(fromFile !== undefined ? { metricSet: fromFile } : { criteria }),
      ...(flags.metrics !== undefined ? { scheme: flags.metrics } : {}),
    });
    if (!result.ok) {
      throw new Error(
        `preflight against ${flags.prometheus} found:\n${result.problems.map((p) => `  - ${p}`).join("\n")}`,
      );
    }
    metricSet = result.metricSet;
    analysisNamespace = target.namespace;
    for (const warning of result.warnings) output.progress(`preflight warning: ${warning}`);
    output.progress(
      `preflight: Prometheus answers; ${metricSet.source} metrics; the stable revision ` +
        `${target.stable} has series for ${result.checked.join(", ")}`,
    );
  };
  let report: RolloutReport | undefined;
  let failure: unknown;
  let deployment: DeploymentTracker | undefined;
  const units = (): Readonly<Record<string, string>> => metricUnits(metricSet?.metrics ?? []);
  try {
    const driver = await openDriver(flags, session, deps);
    await holdOnDrift(driver, deps, session, flags, "rollout")?.();
    deployment = await trackDeployment(
      driver,
      clusterOf(deps, session),
      deploymentReporter(output, deps),
    );
    const tracker = deployment;
    const onOutput = output.onOutput;
    report = await runRollout(driver, {
      steps: flags.steps,
      intervalMs: flags.interval,
      maxInconclusive: flags.maxInconclusive,
      promote: flags.promote,
      sleep: deps.sleep,
      now: deps.now,
      ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
      ...(onOutput !== undefined ? { onOutput } : {}),
      onEvent: (event) => {
        output.progress(rolloutProgress(event, flags.interval, flags.maxInconclusive));
        tracker.record(statusForRolloutEvent(event, tracker.urls, units()));
      },
      preflight,
      analyse: (request) => {
        if (metricSet === undefined) throw new Error("the analysis ran before its preflight");
        return deps.analyse({
          ...common({ ...request, candidate: request.revision }, analysisWindow(windowMs, request)),
          metricSet,
        });
      },
    });
    output.progress(rolloutSummary(report));
  } catch (error) {
    failure = error;
  }
  const exitCode = report !== undefined ? rolloutExitCode(report) : undefined;
  let reportFiles: { json: string; html: string } | undefined;
  let reportError: string | undefined;
  if (report !== undefined && flags.report !== undefined) {
    try {
      const record = rolloutRecord(
        report,
        {
          prometheusUrl: flags.prometheus,
          namespace: analysisNamespace ?? "",
          window: promqlDuration(windowMs),
          sampleInterval: promqlDuration(sampleIntervalMs),
          significance: flags.significance,
          minRequests: flags.minRequests,
          ...(metricSet !== undefined ? { metricSet } : {}),
        },
        { startedAt, finishedAt: deps.now() },
      );
      reportFiles = writeRolloutReport(flags.report, record);
      output.progress(`report: ${reportFiles.html} (and ${path.basename(reportFiles.json)})`);
    } catch (error) {
      // The rollout's outcome and exit code stand; a report that could not be written is said
      // (on stderr, and in the JSON), not hidden.
      reportError = `the rollout's report could not be written to ${flags.report}: ${errorMessage(error)}`;
      deps.stderr(`error: ${reportError}\n`);
    }
  }
  let stackFile: StackFileReport | undefined;
  try {
    stackFile = await finishStackFile(session, {
      requested: flags.commit,
      // The file holds what is deployed in every outcome but a failure's.
      allowed: report !== undefined && report.status !== "failed",
      message:
        report === undefined
          ? `canary ${flags.stack}: rollout`
          : `canary ${flags.stack}: rollout ${report.steps.join(",")} ${report.status}` +
            (report.promoted ? `, ${report.candidate} promoted` : "") +
            `, canaryPercent ${report.deployedPercent}`,
    });
  } catch (error) {
    failure ??= error;
  }
  // After the stack file is committed: a slow GitHub never holds back the record of a change.
  if (report !== undefined && deployment !== undefined) {
    const logUrl =
      flags.reportUrl !== undefined && reportFiles !== undefined
        ? `${flags.reportUrl}/${encodeURIComponent(path.basename(reportFiles.html))}`
        : undefined;
    deployment.record(statusForRolloutReport(report, deployment.urls, units(), logUrl));
  }
  const githubDeployments = await deployment?.finish();
  if (report === undefined || failure !== undefined) {
    return fail(output, failure, {
      ...(report !== undefined ? { report } : {}),
      stackFile,
      githubDeployments: githubDeployments ?? null,
    });
  }
  output.result({
    ok: exitCode === EXIT_OK,
    exitCode,
    ...report,
    stackFile,
    ...(reportFiles !== undefined ? { reportFiles } : {}),
    ...(reportError !== undefined ? { reportError } : {}),
    githubDeployments: githubDeployments ?? null,
  });
  if (!flags.json && report.status === "failed")
    deps.stderr(`error: ${report.error ?? report.reason}\n`);
  return exitCode ?? EXIT_ERROR;
}

function runReportCommand(file: string, flags: ReportFlags, deps: CliDeps): number {
  const output = new Output(deps, flags.json, false);
  const resolved = path.resolve(deps.cwd, file);
  let record;
  try {
    record = readRolloutRecord(resolved);
  } catch (error) {
    return output.error(EXIT_REFUSED, `refused: ${errorMessage(error)}`);
  }
  const html =
    flags.out !== undefined
      ? path.resolve(deps.cwd, flags.out)
      : resolved.replace(/(\.json)?$/i, ".html");
  try {
    fs.writeFileSync(html, renderReportHtml(record));
  } catch (error) {
    return output.error(EXIT_ERROR, `cannot write ${html}: ${errorMessage(error)}`);
  }
  output.progress(`report: ${html}`);
  output.result({ ok: true, exitCode: EXIT_OK, html });
  return EXIT_OK;
}

const STACK_OPTION_HELP = "the stack, e.g. prod (its config is Pulumi.<stack>.yaml)";

/**
 * Marks options required. Commander's own mandatory check runs before its unknown-option check,
 * so a typo (`--stak prod`) would be reported as "--stack not specified"; checked before the
 * action instead, the typo is named (with commander's "Did you mean --stack?").
 */
function requireOptions(command: Command, ...flags: string[]): Command {
  return command.hook("preAction", (_root, action) => {
    if (action !== command) return;
    for (const option of command.options) {
      if (
        flags.includes(option.long ?? "") &&
        action.getOptionValue(option.attributeName()) === undefined
      ) {
        action.error(`error: required option '${option.flags}' not specified`, {
          code: "commander.missingMandatoryOptionValue",
          exitCode: EXIT_REFUSED,
        });
      }
    }
  });
}

function addCommonOptions(command: Command): Command {
  return requireOptions(command, "--stack")
    .option("-s, --stack <name>", `${STACK_OPTION_HELP} (required)`)
    .option(
      "-C, --cwd <dir>",
      "the Pulumi project directory (default: the nearest directory with a Pulumi.yaml, from the current one up)",
    )
    .option("--json", "print one JSON object on stdout (progress goes to stderr)", false)
    .option("-v, --verbose", "stream Pulumi's own output", false);
}

/** `--lock-wait`: how long a change waits for another canary command's lock of the stack. */
function addLockOption(command: Command): Command {
  return command.addOption(
    new Option(
      "--lock-wait <duration>",
      "how long to wait while another canary command changes this stack (0s: fail at once); " +
        "then exit 4",
    )
      .env(LOCK_WAIT_ENV)
      .argParser(parseLockWaitArgument)
      .default(DEFAULT_LOCK_WAIT_MS, formatDuration(DEFAULT_LOCK_WAIT_MS)),
  );
}

function addChangeOptions(command: Command): Command {
  return addLockOption(addCommonOptions(command))
    .option("--no-up", "only write Pulumi.<stack>.yaml (e.g. for a pull request); no pulumi up")
    .option("--commit", "commit Pulumi.<stack>.yaml with a message naming the change", false);
}

const STACK_FILE_HELP = `
The new config lands in Pulumi.<stack>.yaml. In a git checkout the command prints its diff: commit
it (or pass --commit), or the next reviewed \`pulumi up\` from the repository reverts the change.
If the update fails, the config is set back to the values deployed before, and Pulumi's message
is printed. After the update the stack outputs must show the new values (else exit 5).
One canary command at a time changes a stack: each holds the lock Pulumi.<stack>.yaml.lock from
reading the config to checking the outputs; another one waits up to --lock-wait (default
${formatDuration(DEFAULT_LOCK_WAIT_MS)}, or ${LOCK_WAIT_ENV}), then exits 4 naming the holder. A lock
whose holder died is taken over once it is stale.`;

/**
 * The program; `setExitCode` receives each action's exit code. Commander's own messages (bad
 * arguments) go to `writeErr`, by default deps.stderr.
 */
export function buildProgram(
  deps: CliDeps,
  setExitCode: (code: number) => void,
  writeErr: (text: string) => void = deps.stderr,
): Command {
  const program = new Command("canary");
  program
    .description(
      "Steer the canary release of this Pulumi stack: traffic steps, promotion, rollback, and " +
        "metric-gated rollouts, through the Pulumi Automation API.",
    )
    .exitOverride()
    .configureOutput({ writeOut: deps.stdout, writeErr })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`);

  const helpAfter = (command: Command, examples: string, extra = ""): Command =>
    command.addHelpText(
      "after",
      `\nExamples:\n${examples}\n${extra.trim() === "" ? "" : `\n${extra.trim()}\n`}\n${EXIT_CODES_HELP}`,
    );

  helpAfter(
    addCommonOptions(
      program
        .command("status")
        .description(
          "show the stable and candidate revisions, the candidate's smoke test, the URLs, and " +
            "the stack's traffic beside the Route's in the cluster, flagging any drift",
        ),
    )
      .option("-w, --watch", "refresh until Ctrl-C (with --json: one JSON object per line)", false)
      .addOption(
        new Option("--interval <duration>", "how often --watch refreshes")
          .argParser(parseDurationArgument)
          .default(parseDuration(DEFAULT_WATCH_INTERVAL), DEFAULT_WATCH_INTERVAL),
      ),
    "  canary status --stack prod\n  canary status --stack prod --watch\n" +
      "  canary status --stack prod --json",
    `The stack's side is its config and its last update's outputs; the cluster's side is the
Route's status (what Knative serves) and the candidate Revision, read with the stack's own
kubeconfig and kubernetes:context. DRIFT lines name each difference and what resolves it.
A cluster that cannot be read is said, and the stack's side is still shown.`,
  ).action(async (flags: StatusFlags) => setExitCode(await runStatus(flags, deps)));

  helpAfter(
    addCommonOptions(
      program
        .command("revisions")
        .description(
          "list the app's Revisions in the stack's cluster, newest first: age, commit, Ready, " +
            "smoke test, live share, and their part in the stack",
        ),
    ),
    "  canary revisions --stack prod\n  canary revisions --stack prod --json",
  ).action(async (flags: CommonFlags) => setExitCode(await runRevisions(flags, deps)));

  helpAfter(
    addChangeOptions(
      program
        .command("start")
        .description(
          "make a Revision the candidate at 0 % (by name or by commit): one pulumi up; then " +
            "step, rollout, promote or rollback",
        )
        .addArgument(
          new Argument(
            "<revision>",
            "a Revision's name (hello-5d6e7f8) or its commit (4 to 40 hex digits, e.g. 5d6e7f8)",
          ),
        ),
    ),
    "  canary start 5d6e7f8 --stack prod --commit\n  canary start hello-5d6e7f8 --stack prod",
    `The Revision is looked up in the stack's cluster (see \`canary revisions\`). At 0 % the
candidate gate only checks that it exists; a step above 0 needs it Ready and, with the tester,
passed. Refused while another candidate has traffic: roll it back or promote it first.
${STACK_FILE_HELP}`,
  ).action(async (argument: string, flags: ChangeFlags) =>
    setExitCode(
      await runChange(
        flags,
        deps,
        `start ${argument}`,
        "start",
        async (driver, options, session) => {
          const config = await readCanaryConfig(driver);
          const cluster = await openStackCluster(driver, clusterOf(deps, session));
          const { rows } = await readRevisions(cluster, config);
          const revision = resolveRevision(argument, rows, config.app);
          const progress = (line: string): void =>
            (flags.json ? deps.stderr : deps.stdout)(`${line}\n`);
          progress(
            `${revision.name}: commit ${revision.commit?.slice(0, 7) ?? "unknown"}, ` +
              `${revision.ready ? "Ready" : `not Ready (${revision.notReady ?? "unknown"})`}, ` +
              `smoke test ${smokeTestSummary(revision.smokeTest)}`,
          );
          const header = await readTagHeaderRouting(cluster, null);
          progress(`  routing by header ${header.state}: ${header.detail}`);
          if (!revision.ready || revision.smokeTest.state !== "passed") {
            progress(
              "  it may start at 0 %, but a step above 0 needs it Ready and its smoke test passed " +
                "(the candidate gate, canary-release:verifyCandidate)",
            );
          }
          return startCandidate(driver, revision.name, options);
        },
      ),
    ),
  );

  helpAfter(
    addChangeOptions(
      program
        .command("step")
        .description("set canaryPercent to PERCENT and run one pulumi up")
        .addArgument(
          new Argument("<percent>", "the candidate's share of traffic, 0..100").argParser(
            parsePercentArgument,
          ),
        ),
    ),
    "  canary step 20 --stack prod\n  canary step 20 --stack prod --no-up --commit   # for a pull request",
    `A percent above 0 needs canary-release:candidateRevision.\n${STACK_FILE_HELP}`,
  ).action(async (percent: number, flags: ChangeFlags) =>
    setExitCode(
      await runChange(flags, deps, `canaryPercent ${percent}`, "step", (driver, options) =>
        setCanaryPercent(driver, percent, options),
      ),
    ),
  );

  helpAfter(
    addChangeOptions(
      program
        .command("promote")
        .description(
          "make the candidate the stable revision, remove the candidate, canaryPercent 0: one pulumi up",
        ),
    ),
    "  canary promote --stack prod --commit",
    `Refused when no candidate is set.\n${STACK_FILE_HELP}`,
  ).action(async (flags: ChangeFlags) =>
    setExitCode(await runChange(flags, deps, "promote", "promote", promoteCandidate)),
  );

  helpAfter(
    addChangeOptions(
      program
        .command("rollback")
        .description(
          "send all traffic back to the stable revision (canaryPercent 0): one pulumi up",
        ),
    ),
    "  canary rollback --stack prod",
    STACK_FILE_HELP,
  ).action(async (flags: ChangeFlags) =>
    setExitCode(await runChange(flags, deps, "rollback", "rollback", rollbackCanary)),
  );

  const rollout = addLockOption(
    addCommonOptions(
      program
        .command("rollout")
        .description(
          "raise canaryPercent step by step; after each step wait, analyse the candidate's " +
            "metrics in Prometheus, and go on, hold, or roll back",
        ),
    ),
  )
    .addOption(
      new Option(
        "--steps <list>",
        "canaryPercent of each step, strictly increasing, 1..100 (required)",
      ).argParser(parseStepsArgument),
    )
    .addOption(
      new Option("--interval <duration>", "how long each step runs before it is analysed")
        .argParser(parseDurationArgument)
        .default(parseDuration(DEFAULT_INTERVAL), DEFAULT_INTERVAL),
    )
    .addOption(
      new Option(
        "--window <duration>",
        "metrics window of each analysis (default: --interval)",
      ).argParser(parseDurationArgument),
    )
    .addOption(
      new Option(
        "--prometheus <url>",
        "Prometheus base URL, e.g. http://prometheus:9090 (required)",
      ).argParser(parseUrl),
    )
    .addOption(
      new Option(
        "--metrics <scheme>",
        "the built-in metrics for Knative's queue-proxy names (default: detected from the stable " +
          "revision's series)",
      ).choices(Object.keys(BUILT_IN_NAMES)),
    )
    .addOption(
      new Option(
        "--metrics-file <path>",
        "a YAML file of your own metrics (PromQL templates, each with its direction, threshold " +
          "and/or comparison); see examples/metrics/",
      ).conflicts(["metrics", "minSuccessRate", "maxP99Ms", "successMargin", "latencyMargin"]),
    )
    .addOption(
      new Option(
        "--min-success-rate <percent>",
        "absolute: fail below this share of non-5xx responses, e.g. 99",
      ).argParser(numberIn(0, 100, "--min-success-rate")),
    )
    .addOption(
      new Option(
        "--max-p99-ms <ms>",
        "absolute: fail above this 99th-percentile latency in milliseconds",
      ).argParser(numberIn(1, 3_600_000, "--max-p99-ms")),
    )
    .addOption(
      new Option(
        "--success-margin <points>",
        "compare: fail when the success rate is significantly below the stable revision's by " +
          "more than this many percentage points",
      )
        .argParser(numberIn(0, 100, "--success-margin"))
        .default(DEFAULT_SUCCESS_MARGIN),
    )
    .addOption(
      new Option(
        "--latency-margin <percent>",
        "compare: fail when the p99 is significantly above the stable revision's by more than " +
          "this percent",
      )
        .argParser(numberIn(0, 1000, "--latency-margin"))
        .default(DEFAULT_LATENCY_MARGIN),
    )
    .addOption(
      new Option(
        "--no-compare",
        "judge by the absolute thresholds only (both needed), not against the stable revision",
      ).conflicts(["metricsFile", "successMargin", "latencyMargin"]),
    )
    .addOption(
      new Option("--significance <p>", "significance level of each one-sided test of a comparison")
        .argParser(numberIn(0.0001, 0.2, "--significance"))
        .default(DEFAULT_SIGNIFICANCE),
    )
    .addOption(
      new Option(
        "--sample-interval <duration>",
        `a latency comparison takes one sample per interval of the window (default: a tenth ` +
          `of the window, at least ${DEFAULT_SAMPLE_INTERVAL})`,
      ).argParser(parseDurationArgument),
    )
    .addOption(
      new Option(
        "--min-requests <n>",
        "fewer requests than this in a window (for either revision) make the analysis inconclusive",
      )
        .argParser(wholeNumberIn(1, 1_000_000_000))
        .default(DEFAULT_MIN_REQUESTS),
    )
    .addOption(
      new Option(
        "--max-inconclusive <n>",
        "inconclusive verdicts tolerated at one step (each holds one more interval); one more rolls back",
      )
        .argParser(wholeNumberIn(0, 100))
        .default(DEFAULT_MAX_INCONCLUSIVE),
    )
    .option(
      "--report <dir>",
      "write the rollout's record (rollout-<stack>-<time>.json) and its page (.html) into DIR",
    )
    .addOption(
      new Option(
        "--report-url <url>",
        "where DIR is published (an artifact server): the GitHub deployment's last status links to the page there",
      ).argParser(parseUrl),
    )
    .option(
      "--promote",
      "after the last step passed, promote the candidate (one more update)",
      false,
    )
    .option("--commit", "commit Pulumi.<stack>.yaml at the end, naming the outcome", false);
  requireOptions(rollout, "--steps", "--prometheus");

  helpAfter(
    rollout,
    "  canary rollout --stack prod --steps 5,20,50 --interval 5m --promote \\\n" +
      "    --prometheus http://prometheus:9090 --report reports/\n" +
      "  canary rollout --stack prod --steps 5,20,50,100 --prometheus http://prometheus:9090 \\\n" +
      "    --min-success-rate 99 --max-p99-ms 500 --no-compare\n" +
      "  canary rollout --stack prod --steps 20,100 --prometheus http://prometheus:9090 \\\n" +
      "    --metrics-file metrics.yaml",
    `
Each analysis judges the candidate against the stable revision over the same window (both
serve): the success rate by a two-proportion test of the request counts, the p99 latency by a
Mann-Whitney U test of one sample per --sample-interval. It fails when the candidate is
significantly worse by more than the margin, passes when it is significantly not, and is
inconclusive when the data cannot tell (too few requests or samples). --min-success-rate and
--max-p99-ms add absolute limits; --no-compare keeps only those. --metrics-file replaces the
built-in metrics with your own (examples/metrics/ holds the built-in ones in that form).
Before any traffic moves, a preflight checks that Prometheus answers, that it accepts every
query, and that the stable revision has series in the window; else exit 2, nothing changed.
--report DIR writes the rollout's record (JSON) and a page with its plots (HTML) into DIR.
With githubDeployments set up, each step posts a status on the candidate's GitHub Deployment
(figures included) and the outcome the last one; --report-url makes that one link to the page.
The plan is checked before anything changes: steps strictly increasing, 1..100, the first above
the current canaryPercent, no increase (the first one included) above canary-release:maxStepPercent
when set, the stack file equal to what is deployed, and the last step's config accepted by the
stack's own config parser (a candidate set, among the rest).
A failed analysis rolls back (canaryPercent 0, one update). An inconclusive one holds the step for
another interval, at most --max-inconclusive times, then rolls back; each hold judges all of the
step's traffic so far (as many windows as attempts), so that more data can conclude. An analysis that errors counts
as inconclusive. A failed update sets the config back to the last deployed value and stops.
Ctrl-C stops between two actions and says where (the deployed step stays); Ctrl-C again exits
at once. Pulumi sees that Ctrl-C too and cancels an update in progress, which then counts as failed.
${STACK_FILE_HELP}`,
  ).action(async (flags: RolloutFlags) => setExitCode(await runRolloutCommand(flags, deps)));

  helpAfter(
    program
      .command("report")
      .description("render the page (HTML) of a rollout's record again, from its JSON")
      .addArgument(new Argument("<file>", "a record written by `canary rollout --report <dir>`"))
      .option("-o, --out <file>", "where to write the page (default: beside FILE, as .html)")
      .option("--json", "print one JSON object on stdout", false),
    "  canary report reports/rollout-prod-20261202T101500Z.json\n" +
      "  canary report reports/rollout-prod-20261202T101500Z.json --out /tmp/rollout.html",
  ).action((file: string, flags: ReportFlags) => setExitCode(runReportCommand(file, flags, deps)));

  return program;
}

/** Runs the command with `argv` (without node and script) and returns its exit code. */
export async function main(argv: readonly string[], deps: CliDeps): Promise<number> {
  let exitCode = EXIT_OK;
  // With --json, stdout holds one JSON object whatever happens: commander's own messages about
  // the arguments are kept and answered as one, with the same exit code.
  const json = argv.includes("--json");
  let argumentErrors = "";
  const program = buildProgram(
    deps,
    (code) => {
      exitCode = code;
    },
    json ? (text) => (argumentErrors += text) : undefined,
  );
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      const code =
        error.code === "commander.helpDisplayed" || error.code === "commander.version"
          ? EXIT_OK
          : EXIT_REFUSED;
      // Commander printed the message already (to stderr, or into argumentErrors with --json).
      if (json && code !== EXIT_OK) {
        const message = argumentErrors
          .split("\n")
          .filter((line) => line.trim() !== "" && !line.startsWith("(add --help"))
          .join("\n")
          .replace(/^error: /, "");
        deps.stdout(
          `${JSON.stringify({ ok: false, exitCode: code, error: `refused: ${message}` }, null, 2)}\n`,
        );
      }
      return code;
    }
    deps.stderr(`error: ${errorMessage(error)}\n`);
    return EXIT_ERROR;
  }
  return exitCode;
}

/**
 * Ctrl-C handling: the first aborts `controller` (a rollout stops between actions), another one
 * exits at once. A second signal within `graceMs` of the first is the same keypress delivered
 * twice: the terminal signals the whole process group, and `npx`/`npm exec` forwards its own
 * copy to us as well.
 */
export function interruptHandler(
  controller: AbortController,
  io: { write: (text: string) => void; exit: (code: number) => void; now: () => number },
  graceMs = 1_000,
): () => void {
  let firstAt: number | undefined;
  return () => {
    const now = io.now();
    if (firstAt === undefined) {
      firstAt = now;
      io.write("\nCtrl-C: stopping after the current action (Ctrl-C again to exit at once)\n");
      controller.abort();
    } else if (now - firstAt >= graceMs) {
      io.exit(EXIT_INTERRUPTED);
    }
  };
}

/** The bin's entry: wires Ctrl-C to an AbortSignal, runs the command, sets the exit code. */
export async function runFromProcess(): Promise<void> {
  const controller = new AbortController();
  process.on(
    "SIGINT",
    interruptHandler(controller, {
      write: (text) => process.stderr.write(text),
      exit: (code) => process.exit(code),
      now: () => Date.now(),
    }),
  );
  process.exitCode = await main(process.argv.slice(2), defaultCliDeps(controller.signal));
  // A cluster read given up at its deadline may still hold its socket open, which would keep
  // the process alive. The command is done: exit a second later, when output written to a pipe
  // has been flushed. The timer is unref'd, so a process with nothing left open exits at once.
  setTimeout(() => process.exit(), 1_000).unref();
}
