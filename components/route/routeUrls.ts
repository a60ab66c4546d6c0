// URLs of a Knative Route, computed the way Knative's default domain template does
// ({{.Name}}.{{.Namespace}}.{{.Domain}}, tags as {{.Tag}}-{{.Name}}). Pulumi does not wait for
// custom resources to become ready, so the Route's status is not a reliable source right after
// an update; these are known at preview time.

/** Knative's domain for cluster-local URLs (the cluster domain `cluster.local`, the default). */
export const CLUSTER_LOCAL_DOMAIN = "svc.cluster.local";

export function routeUrl(app: string, namespace: string, domain: string): string {
  return `http://${app}.${namespace}.${domain}`;
}

/** The URL of one tag: public under `domain`, or cluster-local. */
export function tagUrl(
  tag: string,
  app: string,
  namespace: string,
  domain: string,
  clusterLocal = false,
): string {
  return `http://${tag}-${app}.${namespace}.${clusterLocal ? CLUSTER_LOCAL_DOMAIN : domain}`;
}
