// Which tag URLs of the Route face the internet. Knative publishes every tag of a Route at
// `<tag>-<app>.<ns>.<domain>` unless the Kubernetes Service it keeps for that tag (named
// `<tag>-<app>`, labelled serving.knative.dev/route=<app>, controlled by the Route) carries
// networking.knative.dev/visibility=cluster-local; then the tag is served only on the cluster's
// internal gateway, at `<tag>-<app>.<ns>.svc.cluster.local` (knative/serving
// pkg/reconciler/route/visibility GetVisibility, the Service from
// resources.MakeK8sPlaceholderService). The Route controller creates those Services itself and
// afterwards updates only their spec, so a label set on them stays. Pure module: the CanaryRoute
// creates the Services from these manifests.
import { TAG_CANDIDATE, TAG_LATEST, TrafficTarget } from "../../common/traffic";

export const VISIBILITY_LABEL = "networking.knative.dev/visibility";
export const CLUSTER_LOCAL = "cluster-local";
/** The label Knative finds a Route's tag Services by. */
export const ROUTE_LABEL = "serving.knative.dev/route";

/**
 * Tags whose revision may not have passed its smoke test: `latest` follows every new Ready
 * revision, and a `candidate` can be untested (allowUntestedCandidate, verifyCandidate false).
 * `stable` serves production already, and the Route's own URL is production.
 */
export const UNVERIFIED_TAGS: readonly string[] = Object.freeze([TAG_CANDIDATE, TAG_LATEST]);

/** The tags of `traffic` that stay inside the cluster. */
export function clusterLocalTags(
  traffic: readonly TrafficTarget[],
  publicTagUrls: boolean,
): string[] {
  if (publicTagUrls) return [];
  return traffic.flatMap((target) =>
    target.tag !== undefined && UNVERIFIED_TAGS.includes(target.tag) ? [target.tag] : [],
  );
}

export interface PlaceholderServiceSpec {
  readonly app: string;
  readonly namespace: string;
  readonly domain: string;
  readonly tag: string;
  /** metadata.uid of the Route: Knative uses a tag Service only if the Route controls it. */
  readonly routeUid: string;
  /** Labels of the Route, which Knative copies onto the Services it creates. */
  readonly routeLabels?: Readonly<Record<string, string>>;
}

/**
 * The tag's Service exactly as the Route controller would create it, plus the cluster-local
 * label. Whoever comes first creates it; the other finds it as expected. The controller later
 * points its spec at the ingress; it never touches the labels.
 */
export function placeholderServiceManifest(spec: PlaceholderServiceSpec): {
  metadata: Record<string, unknown>;
  spec: Record<string, unknown>;
} {
  const hostname = `${spec.tag}-${spec.app}`;
  return {
    metadata: {
      name: hostname,
      namespace: spec.namespace,
      // The Route controller may have created the Service first and already pointed its spec
      // at the ingress: this apply then takes the spec back to the placeholder's, and the
      // controller, which watches the Services it owns, corrects it at once.
      annotations: { "pulumi.com/patchForce": "true" },
      labels: {
        ...spec.routeLabels,
        [ROUTE_LABEL]: spec.app,
        [VISIBILITY_LABEL]: CLUSTER_LOCAL,
      },
      ownerReferences: [
        {
          apiVersion: "serving.knative.dev/v1",
          kind: "Route",
          name: spec.app,
          uid: spec.routeUid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      type: "ExternalName",
      externalName: `${hostname}.${spec.namespace}.${spec.domain}`,
      sessionAffinity: "None",
      ports: [{ name: "http2", port: 80, targetPort: 80 }],
    },
  };
}

/**
 * Whether this update keeps the unverified tags cluster-local. Render mode cannot: Knative uses
 * a tag's Service only when the Route controls it, by the Route's uid, which exists only once
 * the Route is on a cluster; the user is told how to label the Services after applying.
 */
export function tagVisibilityMode(options: {
  readonly publicTagUrls: boolean;
  readonly renderOnly: boolean;
}): { readonly clusterLocal: boolean; readonly warning?: string } {
  if (options.publicTagUrls) return { clusterLocal: false };
  if (!options.renderOnly) return { clusterLocal: true };
  return {
    clusterLocal: false,
    warning:
      `Render mode: the ${UNVERIFIED_TAGS.join(" and ")} tag URLs will be public, since the ` +
      "Services that keep them cluster-local must name the Route's uid. After applying, run " +
      `\`kubectl label service <tag>-<app> -n <namespace> ${VISIBILITY_LABEL}=${CLUSTER_LOCAL}\` ` +
      "for each, or set publicTagUrls to true to say that public is intended.",
  };
}
