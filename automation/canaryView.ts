// What `canary revisions`, `canary start` and `canary status` decide and show from what the
// cluster holds: the app's Revisions with their commit, Ready state, smoke test and live share;
// which Revision an argument names; the stack's traffic beside the Route's, and where they
// differ. Pure: the command reads the cluster (cluster.ts) and the stack, then calls these.
import { notReadyReason, smokeTestOf, type SmokeTestRecord } from "../common/revisionRecord";
import { REVISION_ANNOTATIONS } from "../common/pipelineContract";
import { sharesOf, targetName } from "../common/stepGuard";
import type { TrafficTarget } from "../common/traffic";
import type { KnativeRevision, KnativeRoute } from "./cluster";
import { CanaryRefusedError } from "./errors";

/** One Revision as `canary revisions` lists it; JSON-ready (null, not undefined). */
export interface RevisionRow {
  readonly name: string;
  readonly createdAt: string | null;
  /** The commit it was built from (the pipeline's annotation); null for a foreign Revision. */
  readonly commit: string | null;
  readonly ready: boolean;
  /** Why it is not Ready, in Knative's words; null when it is. */
  readonly notReady: string | null;
  readonly smokeTest: SmokeTestRecord;
  /** Its share of the Route's live traffic (status), 0 when it has none; null: no Route read. */
  readonly livePercent: number | null;
  /** The Route's tags that reach it (`stable`, `candidate`, `latest`). */
  readonly tags: readonly string[];
  /** Its part in the stack's config. */
  readonly role: "stable" | "candidate" | null;
}

/** The Route's live traffic targets by revision name (status resolves `latestRevision`). */
function liveTargets(route: KnativeRoute | undefined): readonly TrafficTarget[] {
  return route?.status?.traffic ?? [];
}

/** The app's Revisions, newest first, with what the cluster and the stack say of each. */
export function revisionRows(
  revisions: readonly KnativeRevision[],
  route: KnativeRoute | undefined,
  roles: { readonly stableRevision?: string; readonly candidateRevision?: string },
): RevisionRow[] {
  const live = liveTargets(route);
  const rows = revisions.map((revision): RevisionRow => {
    const name = revision.metadata.name;
    const targets = live.filter((target) => target.revisionName === name);
    const notReady = notReadyReason(revision.status);
    const commit = revision.metadata.annotations?.[REVISION_ANNOTATIONS.commit];
    return {
      name,
      createdAt: revision.metadata.creationTimestamp ?? null,
      commit: commit !== undefined && commit !== "" ? commit : null,
      ready: notReady === undefined,
      notReady: notReady ?? null,
      smokeTest: smokeTestOf(revision.metadata),
      livePercent:
        route === undefined
          ? null
          : targets.reduce((sum, target) => sum + (target.percent ?? 0), 0),
      tags: targets.map((target) => target.tag).filter((tag): tag is string => tag !== undefined),
      role:
        name === roles.stableRevision
          ? "stable"
          : name === roles.candidateRevision
            ? "candidate"
            : null,
    };
  });
  return rows.sort(
    (a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? "") || a.name.localeCompare(b.name),
  );
}

/** `passed · HTTP 200 in 35 ms`, `failed · HTTP 500: body did not match`, `untested`. */
export function smokeTestSummary(record: SmokeTestRecord): string {
  const result = record.result;
  if (result === null) return record.state;
  const parts: string[] = [];
  if (result.status !== undefined && result.status !== null) {
    parts.push(`HTTP ${String(result.status)}`);
  }
  if (typeof result.latencyMs === "number") {
    parts.push(`${parts.length > 0 ? "in " : ""}${result.latencyMs} ms`);
  }
  const measured = parts.join(" ");
  const reason =
    record.state !== "passed" && typeof result.reason === "string" && result.reason !== ""
      ? `: ${result.reason}`
      : "";
  return `${record.state}${measured !== "" ? ` · ${measured}` : ""}${reason}`;
}

/** `45s`, `12m`, `5h`, `3d`: kubectl's AGE column. */
export function formatAge(createdAt: string | null, now: Date): string {
  if (createdAt === null) return "-";
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(createdAt)) / 1000));
  if (Number.isNaN(seconds)) return "-";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 2 * 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 2 * 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatRevisions(heading: string, rows: readonly RevisionRow[], now: Date): string {
  if (rows.length === 0) return `${heading}\n  no revisions yet\n`;
  const lines = table(
    ["REVISION", "AGE", "COMMIT", "READY", "SMOKE TEST", "SHARE", "ROLE"],
    rows.map((row) => [
      row.name,
      formatAge(row.createdAt, now),
      row.commit?.slice(0, 7) ?? "-",
      row.ready ? "yes" : "no",
      smokeTestSummary(row.smokeTest),
      row.livePercent === null ? "-" : `${row.livePercent} %`,
      [row.role, ...row.tags.filter((tag) => tag !== row.role).map((tag) => `tag ${tag}`)]
        .filter((part) => part !== null)
        .join(", ") || "-",
    ]),
  );
  return `${heading}\n${lines.map((line) => `  ${line}`).join("\n")}\n`;
}

/**
 * The Revision `canary start` means: an exact name, or a commit (4 to 40 hex digits) that one
 * Revision's commit, or its `<app>-<sha7>` name, starts with. Anything else is refused, naming
 * what there is to choose from.
 */
export function resolveRevision(
  argument: string,
  rows: readonly RevisionRow[],
  app: string,
): RevisionRow {
  const exact = rows.find((row) => row.name === argument);
  if (exact !== undefined) return exact;
  const newest = rows
    .slice(0, 5)
    .map((row) => `${row.name}${row.commit !== null ? ` (${row.commit.slice(0, 7)})` : ""}`);
  const choose =
    rows.length === 0
      ? `the app ${app} has no revisions in the cluster yet`
      : `newest revisions: ${newest.join(", ")}; \`canary revisions\` lists them all`;
  if (!/^[0-9a-f]{4,40}$/i.test(argument)) {
    throw new CanaryRefusedError(
      `no revision named ${argument}, and it is not a commit (4 to 40 hex digits): ${choose}`,
    );
  }
  const sha = argument.toLowerCase();
  // The pipeline names a Revision `<app>-<sha7>` and annotates its full commit; a Revision
  // without the annotation is matched by its name.
  const byName = `${app}-${sha.slice(0, 7)}`;
  const matches = rows.filter((row) =>
    row.commit !== null ? row.commit.toLowerCase().startsWith(sha) : row.name.startsWith(byName),
  );
  if (matches.length === 1) return matches[0];
  if (matches.length > 1 && sha.length === 40) {
    throw new CanaryRefusedError(
      `commit ${argument} was built into ${matches.length} revisions (${matches
        .map((row) => row.name)
        .join(", ")}): give the revision's name`,
    );
  }
  if (matches.length > 1) {
    throw new CanaryRefusedError(
      `commit ${argument} matches ${matches.length} revisions (${matches
        .map((row) => row.name)
        .join(", ")}): give more of the commit, or the revision's name`,
    );
  }
  throw new CanaryRefusedError(
    `no revision of ${app} was built from commit ${argument}: ${choose}`,
  );
}

/** One line of the traffic view: a target (a revision, or the Configuration's latest). */
export interface TrafficRow {
  /** The revision's name, or `latest` for the Configuration's latest revision. */
  readonly target: string;
  /** The revision `latest` resolves to, from the Route's status; null otherwise. */
  readonly resolvesTo: string | null;
  readonly tags: readonly string[];
  /** The stack's share (its `traffic` output); null when the stack was never deployed. */
  readonly desired: number | null;
  /** What the Route's status says Knative serves; null when no Route was read. */
  readonly live: number | null;
}

/** The stack's traffic beside the Route's, and every way they differ. */
export interface TrafficView {
  readonly rows: readonly TrafficRow[];
  /** The Route's Ready condition: `True`, or its status with Knative's reason. */
  readonly routeReady: string | null;
  /** Each difference, with its likely cause and what resolves it; empty: none. */
  readonly drift: readonly string[];
  /**
   * The Route's spec is not what the stack deployed (a hand edit), or the Route is gone: a step
   * from the stack's numbers would not be the step a reviewer sees, so traffic changes wait.
   */
  readonly changedOutsideStack: boolean;
  /** Why the two sides were not compared (never deployed, no Route read); null when they were. */
  readonly notCompared: string | null;
}

const LATEST = "latest";

/** A target's name across spec and status: status names the latest revision, spec does not. */
function nameOf(target: TrafficTarget): string {
  return target.latestRevision === true ? LATEST : targetName(target);
}

function sharesByName(table: readonly TrafficTarget[]): Map<string, number> {
  return sharesOf(
    table.map((target) =>
      target.latestRevision === true
        ? { ...target, revisionName: LATEST }
        : target.revisionName === undefined
          ? { ...target, revisionName: targetName(target) }
          : target,
    ),
  );
}

/** `stable→hello-1 80, candidate→hello-2 20, latest→latest 0`: a table's entries, in order. */
function entriesOf(table: readonly TrafficTarget[]): string {
  return table
    .map((target) => `${target.tag ?? "(no tag)"}→${nameOf(target)} ${target.percent ?? 0}`)
    .sort()
    .join(", ");
}

function differences(
  left: Map<string, number>,
  right: Map<string, number>,
): { name: string; left: number; right: number }[] {
  const names = [...new Set([...left.keys(), ...right.keys()])];
  return names
    .map((name) => ({ name, left: left.get(name) ?? 0, right: right.get(name) ?? 0 }))
    .filter((entry) => entry.left !== entry.right);
}

/**
 * The stack's deployed traffic (`desired`, its `traffic` output) beside the Route in the cluster.
 * Drift is named by its cause: the Route's spec changed outside the stack (a hand edit), or
 * Knative not serving the spec yet (status behind, not Ready), or no Route at all.
 */
export function trafficView(
  desired: readonly TrafficTarget[] | null,
  route: KnativeRoute | undefined | null,
  stack: string,
): TrafficView {
  const read = route !== null;
  const spec = route?.spec?.traffic ?? [];
  const status = route?.status?.traffic ?? [];
  const desiredShares = desired === null ? null : sharesByName(desired);
  const liveShares = read ? sharesByName(status) : null;
  const names: string[] = [];
  for (const name of [...(desiredShares?.keys() ?? []), ...(liveShares?.keys() ?? [])]) {
    if (!names.includes(name)) names.push(name);
  }
  const tagsOf = (name: string): string[] =>
    [...(desired ?? []), ...status]
      .filter((target) => nameOf(target) === name && target.tag !== undefined)
      .map((target) => target.tag as string)
      .filter((tag, index, all) => all.indexOf(tag) === index);
  const rows = names.map((name): TrafficRow => ({
    target: name,
    resolvesTo:
      name === LATEST
        ? (status.find((target) => target.latestRevision === true)?.revisionName ?? null)
        : null,
    tags: tagsOf(name),
    desired: desiredShares === null ? null : (desiredShares.get(name) ?? 0),
    live: liveShares === null ? null : (liveShares.get(name) ?? 0),
  }));
  const ready = route?.status?.conditions?.find((condition) => condition.type === "Ready");
  const routeReady =
    route === undefined || route === null
      ? null
      : ready === undefined
        ? "Unknown: no Ready condition yet"
        : ready.status === "True"
          ? "True"
          : [ready.status, ready.reason, ready.message].filter((part) => part).join(": ");

  const drift: string[] = [];
  let changedOutsideStack = false;
  if (desiredShares !== null && route === undefined) {
    changedOutsideStack = true;
    drift.push(
      `the stack deployed a Route, but the cluster has none: \`pulumi up --refresh --stack ${stack}\` creates it again`,
    );
  }
  if (desiredShares !== null && route !== undefined && route !== null) {
    const edited = differences(desiredShares, sharesByName(spec));
    const restore =
      `the Route was changed outside the stack; \`pulumi up --refresh --stack ${stack}\` ` +
      "sets the stack's traffic again";
    for (const entry of edited) {
      drift.push(
        `${entry.name}: the stack deployed ${entry.left} %, the Route's spec says ` +
          `${entry.right} %: ${restore}`,
      );
    }
    // The same shares under other tags, or an entry dropped at 0 % (the candidate's or the
    // latest tag URL gone): a hand edit too.
    const stackEntries = entriesOf(desired ?? []);
    const routeEntries = entriesOf(spec);
    if (edited.length === 0 && stackEntries !== routeEntries) {
      drift.push(
        `the Route's targets are [${routeEntries}], the stack deployed [${stackEntries}]: ${restore}`,
      );
    }
    changedOutsideStack = drift.length > 0;
    if (edited.length === 0 && liveShares !== null) {
      // Knative has caught up with the spec when it reports Ready for the spec's generation.
      const caughtUp =
        routeReady === "True" &&
        (route.status?.observedGeneration ?? 0) >= (route.metadata.generation ?? 0);
      for (const entry of differences(desiredShares, liveShares)) {
        drift.push(
          `${entry.name}: the stack deployed ${entry.left} %, Knative serves ${entry.right} % ` +
            `(Route Ready ${routeReady ?? "unknown"}): ` +
            (caughtUp
              ? "Knative reports the Route Ready, yet serves another split; see `kubectl " +
                "describe route` and Knative's controller logs"
              : "Knative has not applied the Route's traffic yet; wait, or see `kubectl " +
                "describe route`"),
        );
      }
    }
  }
  const notCompared =
    desired === null
      ? "the stack was never deployed (it has no traffic output to compare with)"
      : route === null
        ? "the cluster was not read"
        : null;
  return { rows, routeReady, drift, changedOutsideStack, notCompared };
}

/** `████░░░░░░░░░░░░░░░░`: a share as a bar of `width` cells. */
export function bar(percent: number, width = 20): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

/** The traffic view as lines: one bar per target for the stack and one for the cluster. */
export function formatTraffic(view: TrafficView): string[] {
  const cell = (percent: number | null): string =>
    percent === null ? "-".padEnd(26) : `${bar(percent)} ${String(percent).padStart(3)} %`;
  const label = (row: TrafficRow): string =>
    row.target === LATEST && row.resolvesTo !== null ? `latest → ${row.resolvesTo}` : row.target;
  const width = Math.max(8, ...view.rows.map((row) => label(row).length));
  const lines = [`${"".padEnd(width)}  ${"stack (desired)".padEnd(26)}  cluster (live)`];
  for (const row of view.rows) {
    const tags = row.tags.filter((tag) => tag !== row.target);
    lines.push(
      (
        `${label(row).padEnd(width)}  ${cell(row.desired)}  ${cell(row.live)}` +
        (tags.length > 0 ? `  ${tags.join(", ")}` : "")
      ).trimEnd(),
    );
  }
  return lines;
}
