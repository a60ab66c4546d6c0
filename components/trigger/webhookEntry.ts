// The public entry GitHub delivers to: the webhook URL and the Ingress in front of the
// EventListener's Service. Pure, so the TLS rules are tested without Pulumi.

export interface WebhookEntry {
  readonly host: string;
  readonly ingressClassName?: string;
  readonly tlsSecretName?: string;
  readonly clusterIssuer?: string;
  /** TLS ends in front of the Ingress: the URL is https, the Ingress has no certificate. */
  readonly externalTls?: boolean;
  readonly allowPlainHttp: boolean;
}

/** Tekton Triggers names an EventListener's Service `el-<name>` and serves it on 8080. */
export const EVENT_LISTENER_PORT = 8080;
export function eventListenerServiceName(eventListener: string): string {
  return `el-${eventListener}`;
}

/** Secret cert-manager writes the certificate into when only a ClusterIssuer is given. */
export function tlsSecretNameFor(app: string, entry: WebhookEntry): string | undefined {
  if (entry.tlsSecretName !== undefined) return entry.tlsSecretName;
  return entry.clusterIssuer !== undefined ? `${app}-webhook-tls` : undefined;
}

/**
 * https unless TLS is absent; config.ts refuses an entry without TLS unless `allowPlainHttp`
 * says plain http is meant.
 */
export function webhookUrl(app: string, entry: WebhookEntry): string {
  const tls = tlsSecretNameFor(app, entry) !== undefined || entry.externalTls === true;
  return `${tls ? "https" : "http"}://${entry.host}/`;
}

/**
 * GitHub caps a webhook payload at 25 MB (docs.github.com, "Webhook events and payloads"), and a
 * push of many commits comes close. ingress-nginx refuses bodies over its 1m default with 413
 * (its `proxy-body-size`, nginx's client_max_body_size, where "m" is MiB): 25m lets every
 * payload through. Contour (Envoy) sets no body limit on proxied requests, and controllers that
 * do not know the annotation ignore it, so it is set whatever the class.
 */
export const NGINX_BODY_SIZE_ANNOTATION = "nginx.ingress.kubernetes.io/proxy-body-size";
export const GITHUB_MAX_PAYLOAD_BYTES = 25 * 1000 * 1000;
export const WEBHOOK_BODY_SIZE = "25m";

/** metadata.annotations and spec of the `networking.k8s.io/v1` Ingress for the webhook. */
export function webhookIngress(
  app: string,
  eventListener: string,
  entry: WebhookEntry,
): { annotations: Record<string, string>; spec: Record<string, unknown> } {
  const secretName = tlsSecretNameFor(app, entry);
  return {
    annotations: {
      [NGINX_BODY_SIZE_ANNOTATION]: WEBHOOK_BODY_SIZE,
      ...(entry.clusterIssuer !== undefined
        ? { "cert-manager.io/cluster-issuer": entry.clusterIssuer }
        : {}),
    },
    spec: {
      ...(entry.ingressClassName !== undefined ? { ingressClassName: entry.ingressClassName } : {}),
      ...(secretName !== undefined ? { tls: [{ hosts: [entry.host], secretName }] } : {}),
      rules: [
        {
          host: entry.host,
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: {
                  service: {
                    name: eventListenerServiceName(eventListener),
                    port: { number: EVENT_LISTENER_PORT },
                  },
                },
              },
            ],
          },
        },
      ],
    },
  };
}

/**
 * Whether this update registers the GitHub webhook: when the stack asks for it
 * (`github.registerWebhook`, default true) and does not only render. Render mode writes
 * manifests only: the webhook is a GitHub object, and registering it would point GitHub at a
 * cluster that may never get those manifests, so it is left out, and the user is told.
 */
export function webhookRegistration(
  renderOnly: boolean,
  requested = true,
): {
  readonly register: boolean;
  readonly warning?: string;
} {
  return renderOnly
    ? {
        register: false,
        warning:
          "Render mode: the GitHub webhook is not registered (it is not a manifest). Run " +
          "`pulumi up` without render.directory, with github:token set, to register it.",
      }
    : { register: requested };
}
