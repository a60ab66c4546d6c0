// The cluster's side of `canary status`, `canary revisions` and `canary start`: where the stack's
// cluster is (its own `kubernetes:` config), and what the app's Route and Revisions say there.
import { revisionRows, trafficView, type RevisionRow, type TrafficView } from "./canaryView";
import type { ClusterReader, ClusterTarget, KnativeRoute } from "./cluster";
import { CanaryRefusedError, errorMessage } from "./errors";
import { readCanaryConfig, type CanaryConfigView } from "./operations";

/** What the cluster is read for: the app, where it runs, and its revisions' parts. */
export type AppView = Pick<
  CanaryConfigView,
  "app" | "namespace" | "stableRevision" | "candidateRevision"
>;
import { CONFIG_KEYS, type StackDriver } from "./stackDriver";
import {
  enableTagHeaderRoutingCommand,
  KNATIVE_FEATURES_CONFIG_MAP,
  TAG_HEADER,
  TAG_HEADER_ROUTING_FEATURE,
  tagHeaderRoutingEnabled,
} from "../common/knativeFeatures";
import type { TrafficTarget } from "../common/traffic";

export type OpenCluster = (target: ClusterTarget) => Promise<ClusterReader>;

/** The stack's cluster, as its provider finds it; a render-mode stack has none. */
export async function clusterTargetOf(
  driver: StackDriver,
): Promise<{ readonly target: ClusterTarget } | { readonly none: string }> {
  const render = await driver.getConfig(CONFIG_KEYS.render);
  if (render !== undefined && render.trim() !== "") {
    return {
      none:
        `stack ${driver.stackName} renders manifests to a directory (${CONFIG_KEYS.render}) ` +
        "instead of applying them: it has no cluster to read",
    };
  }
  const context = (await driver.getConfig("kubernetes:context"))?.trim();
  const kubeconfig = await driver.getConfig("kubernetes:kubeconfig");
  return {
    target: {
      ...(context !== undefined && context !== "" ? { context } : {}),
      ...(kubeconfig !== undefined && kubeconfig.trim() !== "" ? { kubeconfig } : {}),
    },
  };
}

/** Opens the stack's cluster, or refuses (exit 2) for a stack that has none. */
export async function openStackCluster(
  driver: StackDriver,
  openCluster: OpenCluster,
): Promise<ClusterReader> {
  const found = await clusterTargetOf(driver);
  if ("none" in found) throw new CanaryRefusedError(found.none);
  return openCluster(found.target);
}

/** The app's Revisions and Route as `canary revisions` shows them. */
export async function readRevisions(
  cluster: ClusterReader,
  config: AppView,
): Promise<{ readonly rows: RevisionRow[]; readonly route: KnativeRoute | undefined }> {
  const [revisions, route] = await Promise.all([
    cluster.listRevisions(config.namespace, config.app),
    cluster.readRoute(config.namespace, config.app),
  ]);
  return {
    rows: revisionRows(revisions, route, {
      ...(config.stableRevision !== undefined ? { stableRevision: config.stableRevision } : {}),
      ...(config.candidateRevision !== undefined
        ? { candidateRevision: config.candidateRevision }
        : {}),
    }),
    route,
  };
}

/** Whether the cluster routes by the `Knative-Serving-Tag` header, and what to do about it. */
export interface TagHeaderRouting {
  readonly state: "on" | "off" | "unknown";
  /** How a team uses it (on), turns it on (off), or why it is unknown. */
  readonly detail: string;
}

/** Reads Knative's config-features; a cluster that will not say is `unknown`, not an error. */
export async function readTagHeaderRouting(
  cluster: ClusterReader,
  url: string | null,
): Promise<TagHeaderRouting> {
  const { namespace, name } = KNATIVE_FEATURES_CONFIG_MAP;
  let data: Readonly<Record<string, string>> | undefined;
  try {
    data = await cluster.readConfigMapData(namespace, name);
  } catch (error) {
    return { state: "unknown", detail: errorMessage(error) };
  }
  if (tagHeaderRoutingEnabled(data)) {
    return {
      state: "on",
      detail:
        `requests to ${url ?? "the Route's host"} with \`${TAG_HEADER}: candidate\` reach the ` +
        "candidate, whatever its share (anyone may send the header)",
    };
  }
  return {
    state: "off",
    detail:
      `${namespace}/${name} ${data === undefined ? "does not exist" : `has no ${TAG_HEADER_ROUTING_FEATURE}: Enabled`}; ` +
      "turn it on with platform.tagHeaderRouting true where the stack installs Knative, else: " +
      enableTagHeaderRoutingCommand(),
  };
}

/** The live half of `canary status`; JSON-ready. */
export interface LiveStatus {
  /** `context prod (https://…)`; null when the cluster was not read. */
  readonly cluster: string | null;
  /** Why the cluster was not read (render mode, unreachable); null when it was. */
  readonly notRead: string | null;
  readonly traffic: TrafficView;
  /** The candidate Revision as the cluster has it now; null without a candidate or a read. */
  readonly candidate: RevisionRow | null;
  /** Routing by header (Knative's config-features); null when the cluster was not read. */
  readonly tagHeaderRouting: TagHeaderRouting | null;
}

function isTrafficTable(value: unknown): value is TrafficTarget[] {
  return (
    Array.isArray(value) && value.every((entry) => typeof entry === "object" && entry !== null)
  );
}

/**
 * Reads the Route and the candidate from the stack's cluster and sets them beside the stack's
 * deployed traffic (`outputs.traffic`). A cluster that cannot be read is reported, not thrown:
 * status still shows the stack's side.
 */
export async function readLiveStatus(
  driver: StackDriver,
  config: AppView,
  deployedTraffic: unknown,
  openCluster: OpenCluster,
): Promise<LiveStatus> {
  return liveStatusAt(await clusterTargetOf(driver), driver, config, deployedTraffic, openCluster);
}

/** readLiveStatus once the stack's cluster is known (read once per command). */
async function liveStatusAt(
  found: Awaited<ReturnType<typeof clusterTargetOf>>,
  driver: StackDriver,
  config: AppView,
  deployedTraffic: unknown,
  openCluster: OpenCluster,
): Promise<LiveStatus> {
  const desired = isTrafficTable(deployedTraffic) ? deployedTraffic : null;
  const notRead = (why: string): LiveStatus => ({
    cluster: null,
    notRead: why,
    traffic: trafficView(desired, null, driver.stackName),
    candidate: null,
    tagHeaderRouting: null,
  });
  if ("none" in found) return notRead(found.none);
  let cluster: ClusterReader;
  try {
    cluster = await openCluster(found.target);
  } catch (error) {
    return notRead(errorMessage(error));
  }
  try {
    const { rows, route } = await readRevisions(cluster, config);
    return {
      cluster: cluster.where,
      notRead: null,
      traffic: trafficView(desired, route, driver.stackName),
      candidate: rows.find((row) => row.name === config.candidateRevision) ?? null,
      tagHeaderRouting: await readTagHeaderRouting(cluster, route?.status?.url ?? null),
    };
  } catch (error) {
    return { ...notRead(errorMessage(error)), cluster: cluster.where };
  }
}

/**
 * Before a change of traffic (step, start, promote, a rollout): refuses (exit 2) while the
 * Route in the cluster is not what the stack deployed, naming each difference and the command
 * that resolves it. A step computed from the stack's numbers would otherwise be reviewed as
 * 20 -> 50 % while the cluster moves from someone's hand-set split. Returns a warning when the
 * cluster could not be read (the update itself will meet the same cluster); nothing for a
 * render-mode stack, which has none.
 */
export async function refuseWhileDrifted(
  driver: StackDriver,
  openCluster: OpenCluster,
  change: string,
): Promise<string | undefined> {
  const found = await clusterTargetOf(driver);
  if ("none" in found) return undefined;
  const config = await readCanaryConfig(driver);
  const outputs = await driver.outputs();
  const live = await liveStatusAt(found, driver, config, outputs.traffic, openCluster);
  if (live.notRead !== null) {
    return `drift between the stack and the Route not checked: ${live.notRead}`;
  }
  if (!live.traffic.changedOutsideStack) return undefined;
  const stack = driver.stackName;
  throw new CanaryRefusedError(
    `${change} refused, nothing written: the Route in the cluster is not what stack ${stack} ` +
      `deployed:\n${live.traffic.drift.map((line) => `  - ${line}`).join("\n")}\n` +
      "Resolve it first, as said above, then run this again. `canary rollback` is never held " +
      "back: it restores the stack's traffic too, with the candidate at 0 %. To keep a hand-set " +
      "split instead, set canaryPercent to it in the stack file before the `pulumi up --refresh`.",
  );
}
