// What a ServiceAccount's code did (from the API server's audit log) against what its RBAC lets
// it do (`kubectl auth can-i`, impersonating the ServiceAccount as the API server would see it).
import { spawnSync } from "child_process";
import { kubectl } from "../../toolchain/controlPlane";
import type { AuditEvent } from "./audit";
import type { RealTier } from "./realTier";

/** One kind of request: `get revisions.serving.knative.dev` in a namespace. */
export interface Call {
  readonly verb: string;
  /** `resource.group`, or `resource` for the core group; `/subresource` appended. */
  readonly resource: string;
  readonly namespace: string;
  /**
   * An object the call named (not part of its key): a Role limited by resourceNames allows the
   * call for that object only, so `can-i` must ask about one.
   */
  readonly name?: string;
}

export function callKey(call: Call): string {
  const where = call.namespace === "" ? "(cluster-scoped)" : `-n ${call.namespace}`;
  return `${call.verb} ${call.resource} ${where}`;
}

/** The distinct calls `user` made, sorted; requests the server refused are included. */
export function callsOf(events: readonly AuditEvent[], user: string): Call[] {
  const calls = new Map<string, Call>();
  for (const event of events) {
    if (event.user.username !== user || event.objectRef?.resource === undefined) continue;
    const ref = event.objectRef;
    const group = ref.apiGroup ? `.${ref.apiGroup}` : "";
    const sub = ref.subresource ? `/${ref.subresource}` : "";
    const call = {
      verb: event.verb,
      resource: `${ref.resource}${group}${sub}`,
      namespace: ref.namespace ?? "",
      ...(ref.name !== undefined && ref.name !== "" ? { name: ref.name } : {}),
    };
    if (!calls.has(callKey(call))) calls.set(callKey(call), call);
  }
  return [...calls.values()].sort((a, b) => callKey(a).localeCompare(callKey(b)));
}

/** `kubectl auth can-i` as `user`: whether the API server would allow the call. */
export function canI(tier: RealTier, user: string, call: Call): boolean {
  // `revisions/status` would be read as a resource named "status": the subresource is a flag.
  const [resource, subresource] = call.resource.split("/");
  const args = [
    "--kubeconfig",
    tier.plane.kubeconfig,
    "auth",
    "can-i",
    call.verb,
    call.name !== undefined ? `${resource}/${call.name}` : resource,
    ...(subresource !== undefined ? [`--subresource=${subresource}`] : []),
    ...(call.namespace !== "" ? ["-n", call.namespace] : []),
    `--as=${user}`,
  ];
  const result = spawnSync(tier.toolchain.kubectl, args, { encoding: "utf8", timeout: 60_000 });
  const answer = result.stdout.trim();
  if (answer !== "yes" && answer !== "no") {
    throw new Error(`kubectl ${args.join(" ")}: ${result.stdout}${result.stderr}`);
  }
  return answer === "yes";
}

/** Rights every authenticated identity has (system:basic-user): not the stack's doing. */
const EVERYONE =
  /^selfsubject(accessreviews|rulesreviews|reviews)\.authorization\.k8s\.io$|^selfsubjectreviews\.authentication\.k8s\.io$/;

/**
 * Every `verb resource` `user` may do in `namespace`, from `kubectl auth can-i --list`, without
 * non-resource URLs and the rights every authenticated identity has.
 */
export function grantedIn(tier: RealTier, user: string, namespace: string): Call[] {
  const list = kubectl(tier.plane, tier.toolchain, [
    "auth",
    "can-i",
    "--list",
    "-n",
    namespace,
    `--as=${user}`,
  ]);
  const calls: Call[] = [];
  for (const line of list.split("\n").slice(1)) {
    // Resources   Non-Resource URLs   Resource Names   Verbs
    const columns = line.trim().split(/\s{2,}/);
    if (columns.length < 2 || columns[0] === "" || columns[0].startsWith("[")) continue;
    const resource = columns[0];
    if (EVERYONE.test(resource)) continue;
    const verbs = columns[columns.length - 1].replace(/^\[|\]$/g, "").split(/\s+/);
    for (const verb of verbs) {
      if (verb !== "") calls.push({ verb, resource, namespace });
    }
  }
  return calls.sort((a, b) => callKey(a).localeCompare(callKey(b)));
}

/** `resource.group` of every cluster-scoped kind the API server serves. */
function clusterScopedResources(tier: RealTier): Set<string> {
  const names = kubectl(tier.plane, tier.toolchain, [
    "api-resources",
    "--namespaced=false",
    "-o",
    "name",
  ]);
  return new Set(names.split("\n").filter((line) => line !== ""));
}

/** What one ServiceAccount called, and what kubectl auth can-i says about it and around it. */
export interface RightsReport {
  /** Calls of its code the API server would refuse (must be empty). */
  readonly refused: string[];
  /** Reads of Secrets and writes in other namespaces it could make (must be empty). */
  readonly overreach: string[];
  /** Rights in its namespace beyond what its code called. */
  readonly extra: string[];
  /** Any right at all in a namespace the stack does not own (must be empty). */
  readonly elsewhere: string[];
  /** The table, one line per check. */
  readonly rows: string[];
}

/**
 * The rights table of `user` (shown as `who`): every call its code made (from `events`) checked
 * with `kubectl auth can-i --as`; Secrets in `namespace` and the same writes in two other
 * namespaces checked to be refused; and the rights `can-i --list` shows beyond the calls.
 */
export function rightsReport(
  tier: RealTier,
  events: readonly AuditEvent[],
  who: string,
  user: string,
  namespace: string,
): RightsReport {
  const rows: string[] = [];
  const label = who.padEnd(13);
  const called = callsOf(events, user);
  const refused: string[] = [];
  for (const call of called) {
    const allowed = canI(tier, user, call);
    rows.push(`${label} ${allowed ? "yes" : "NO "}  ${callKey(call)}  (called)`);
    if (!allowed) refused.push(callKey(call));
  }
  const reads = new Set(["get", "list", "watch"]);
  const mustNot: Call[] = [
    ...[...reads].map((verb) => ({ verb, resource: "secrets", namespace })),
    ...called
      .filter((call) => !reads.has(call.verb))
      .flatMap((call) => [
        { ...call, namespace: "default" },
        { ...call, namespace: "other-team" },
      ]),
  ];
  const overreach: string[] = [];
  for (const call of mustNot) {
    const allowed = canI(tier, user, call);
    rows.push(`${label} ${allowed ? "YES" : "no "}  ${callKey(call)}  (must not)`);
    if (allowed) overreach.push(callKey(call));
  }
  const calledKeys = new Set(called.map(callKey));
  // Cluster-scoped kinds (a ClusterRole's ClusterInterceptors) show in every namespace's list.
  const clusterWide = clusterScopedResources(tier);
  const extra = [
    ...new Set(
      grantedIn(tier, user, namespace).map((call) =>
        callKey(clusterWide.has(call.resource) ? { ...call, namespace: "" } : call),
      ),
    ),
  ]
    .filter((key) => !calledKeys.has(key))
    .sort();
  for (const key of extra) rows.push(`${label} yes  ${key}  (granted, never called)`);
  const elsewhere = grantedIn(tier, user, "other-team")
    .filter((call) => !clusterWide.has(call.resource))
    .map(callKey);
  rows.push(
    `${label} ${elsewhere.length === 0 ? "nothing" : elsewhere.join(", ")} in -n other-team ` +
      "(cluster-scoped kinds aside)",
  );
  return { refused, overreach, extra, elsewhere, rows };
}

/**
 * `kubectl <args>` as `user` (impersonated, as the API server sees that identity), `input` on
 * stdin: exit status and output, for a test to assert a refusal as well as a success.
 */
export function kubectlAs(
  tier: RealTier,
  user: string,
  args: readonly string[],
  input?: string,
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    tier.toolchain.kubectl,
    ["--kubeconfig", tier.plane.kubeconfig, ...args, `--as=${user}`],
    { encoding: "utf8", timeout: 60_000, ...(input !== undefined ? { input } : {}) },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
