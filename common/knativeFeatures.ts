// Knative Serving's tag-header routing: with the feature on, a request to a Route's own host
// that carries `Knative-Serving-Tag: <tag>` goes to that tag's revision instead of the split.
// Knative adds these header paths to the Route's default (public) host for every tag, so a
// cluster-local tag is reachable through them too: the candidate is then reachable by anyone
// who sends the header. Shared by the Platform (which can turn it on where it installs
// Knative) and the `canary` command (which says whether a cluster has it on).
//
// Pure module: no Pulumi, no I/O.

/** Where Knative Serving reads its feature flags. */
export const KNATIVE_FEATURES_CONFIG_MAP = {
  namespace: "knative-serving",
  name: "config-features",
} as const;

/** The feature's key in config-features; `Enabled` turns it on. */
export const TAG_HEADER_ROUTING_FEATURE = "tag-header-based-routing";

/** The request header that picks a tag. */
export const TAG_HEADER = "Knative-Serving-Tag";

/** Whether config-features' data turns the feature on; absent data: Knative's default, off. */
export function tagHeaderRoutingEnabled(
  data: Readonly<Record<string, string>> | undefined,
): boolean {
  return (data?.[TAG_HEADER_ROUTING_FEATURE] ?? "").trim().toLowerCase() === "enabled";
}

/** The command that turns the feature on in a cluster whose Knative the stack did not install. */
export function enableTagHeaderRoutingCommand(): string {
  const { namespace, name } = KNATIVE_FEATURES_CONFIG_MAP;
  return (
    `kubectl patch configmap ${name} -n ${namespace} --type merge ` +
    `-p '{"data":{"${TAG_HEADER_ROUTING_FEATURE}":"Enabled"}}'`
  );
}
