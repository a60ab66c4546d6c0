// What a ServiceAccount's code did (from the API server's audit log) against what its RBAC lets
// it do (`kubectl auth can-i`, impersonating the ServiceAccount as the API server would see it).
import { spawnSync } from "child_process";
import type { AuditEvent } from "./audit";
import type { RealTier } from "./realTier";

/** One kind of request: `get revisions.serving.knative.dev` in a namespace. */
export interface Call {
  readonly verb: string;
  /** `resource.group`, or `resource` for the core group; `/subresource` appended. */
  readonly resource: string;
  readonly namespace: string;
}

export function callKey(call: Call): string {
  return `${call.verb} ${call.resource} -n ${call.namespace}`;
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
    };
    calls.set(callKey(call), call);
  }
  return [...calls.values()].sort((a, b) => callKey(a).localeCompare(callKey(b)));
}

/** `kubectl auth can-i` as `user`: whether the API server would allow the call. */
export function canI(tier: RealTier, user: string, call: Call): boolean {
  const args = [
    "--kubeconfig",
    tier.plane.kubeconfig,
    "auth",
    "can-i",
    call.verb,
    call.resource,
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
  const args = [
    "--kubeconfig",
    tier.plane.kubeconfig,
    "auth",
    "can-i",
    "--list",
    "-n",
    namespace,
    `--as=${user}`,
  ];
  const result = spawnSync(tier.toolchain.kubectl, args, { encoding: "utf8", timeout: 60_000 });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
  const calls: Call[] = [];
  for (const line of result.stdout.split("\n").slice(1)) {
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
