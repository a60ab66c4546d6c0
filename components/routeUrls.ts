// URLs of a Knative Route, computed the way Knative's default domain template does
// ({{.Name}}.{{.Namespace}}.{{.Domain}}, tags as {{.Tag}}-{{.Name}}). Pulumi does not wait for
// custom resources to become ready, so the Route's status is not a reliable source right after
// an update; these are known at preview time.

export function routeUrl(app: string, namespace: string, domain: string): string {
  return `http://${app}.${namespace}.${domain}`;
}

export function tagUrl(tag: string, app: string, namespace: string, domain: string): string {
  return `http://${tag}-${app}.${namespace}.${domain}`;
}

/** One URL per tag, keyed by tag, in the order the tags are given. */
export function tagUrls(
  tags: readonly string[],
  app: string,
  namespace: string,
  domain: string,
): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const tag of tags) urls[tag] = tagUrl(tag, app, namespace, domain);
  return urls;
}
