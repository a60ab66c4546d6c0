// What Knative Serving (knative-v1.23.0) makes of a Route's tags and the Kubernetes Services it
// keeps for them: which tag is published on the external gateway and which only inside the
// cluster (pkg/reconciler/route/visibility/visibility.go GetVisibility), and whether the Route
// can use a Service someone else created (reconcile_resources.go reconcilePlaceholderServices:
// a Service it does not control fails the Route with "does not own Service").

export type Visibility = "ExternalIP" | "ClusterLocal";

interface Meta {
  readonly name?: string;
  readonly uid?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly {
    readonly kind?: string;
    readonly name?: string;
    readonly uid?: string;
    readonly controller?: boolean;
  }[];
}

export interface RouteObject {
  readonly metadata: Meta;
  readonly spec: { readonly traffic: readonly { readonly tag?: string }[] };
}

export interface ServiceObject {
  readonly metadata: Meta;
}

const VISIBILITY_LABEL = "networking.knative.dev/visibility";
const ROUTE_LABEL = "serving.knative.dev/route";

/**
 * Visibility per traffic name ("" is the Route's own URL), from the Route and the Services in
 * its namespace. Throws where the Route controller would fail the Route.
 */
export function routeVisibility(
  route: RouteObject,
  services: readonly ServiceObject[],
): Record<string, Visibility> {
  const name = route.metadata.name ?? "";
  // A Route labelled cluster-local gets the cluster-local domain (config-domain's
  // LookupDomainForLabels), and so does every tag.
  const routeDefault: Visibility =
    route.metadata.labels?.[VISIBILITY_LABEL] === "cluster-local" ? "ClusterLocal" : "ExternalIP";
  const names = new Set(["", ...route.spec.traffic.flatMap((t) => (t.tag ? [t.tag] : []))]);
  const byName = new Map(
    services
      .filter((s) => s.metadata.labels?.[ROUTE_LABEL] === name)
      .map((s) => [s.metadata.name ?? "", s]),
  );
  const result: Record<string, Visibility> = {};
  for (const traffic of names) {
    // The default domain template names a tag's host `<tag>-<route>`, the Route's own `<route>`.
    const hostname = traffic === "" ? name : `${traffic}-${name}`;
    const service = services.find((s) => s.metadata.name === hostname);
    if (service !== undefined) {
      const controlled = (service.metadata.ownerReferences ?? []).some(
        (ref) =>
          ref.controller === true &&
          ref.kind === "Route" &&
          ref.name === name &&
          ref.uid === route.metadata.uid,
      );
      if (!controlled) throw new Error(`route: "${name}" does not own Service: "${hostname}"`);
    }
    const labelled = byName.get(hostname)?.metadata.labels?.[VISIBILITY_LABEL] === "cluster-local";
    result[traffic] = labelled || routeDefault === "ClusterLocal" ? "ClusterLocal" : "ExternalIP";
  }
  return result;
}
