import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  eventListenerName,
  GitHubTriggerSpec,
  githubTriggerManifests,
  listenerRunGuard,
} from "./githubTriggerManifests";
import { admissionGuardResources } from "../shared/admissionGuard";
import { withNamespace } from "../shared/manifest";
import { pipelineResourceNames } from "../../common/pipelineContract";
import {
  EVENT_LISTENER_CLUSTER_RULES,
  EVENT_LISTENER_RULES,
  rbacProblems,
  roleRules,
} from "../shared/rbac";
import { WebhookEntry, webhookIngress, webhookUrl } from "./webhookEntry";

export interface GitHubTriggerArgs {
  /** Base name of the trigger's resources (the app). */
  readonly app: string;
  /**
   * The namespace, by name. When the stack creates it, order after it with the component's
   * `dependsOn` option (children wait for their parent, and are deleted before it).
   */
  readonly namespace: string;
  /** Repository whose pushes start builds; only pushes to `branch` do. */
  readonly github: { readonly owner: string; readonly repository: string; readonly branch: string };
  /** Public entry for GitHub: host and TLS. */
  readonly webhook: WebhookEntry;
  /** The secret GitHub signs deliveries with (a Pulumi secret, config `webhookSecret`). */
  readonly webhookSecret: pulumi.Input<string>;
  /** Service account the PipelineRuns run as (BuildPipeline's). */
  readonly pipelineRunServiceAccountName: string;
  /** kubernetes.io/dockerconfigjson Secret for the build; unset: anonymous registry. */
  readonly dockerConfigSecretName?: string;
  /**
   * Register the GitHub webhook (needs a GitHub provider in the component's providers).
   * Default true; false in render mode, which writes manifests only.
   */
  readonly registerWebhook?: boolean;
}

/** Key of the webhook secret in its Kubernetes Secret. */
const WEBHOOK_SECRET_KEY = "secret";

/**
 * GitHub push -> Ingress -> Tekton EventListener -> PipelineRun of the build Pipeline. The GitHub
 * webhook and the EventListener's github interceptor share one secret from the stack's config,
 * which stays a Pulumi secret from config to both resources.
 */
export class GitHubTrigger extends pulumi.ComponentResource {
  /** The URL GitHub delivers pushes to. */
  public readonly webhookUrl: string;
  public readonly eventListenerName: string;
  /** The Triggers EventListener that receives GitHub's deliveries. */
  public readonly eventListener: k8s.apiextensions.CustomResource;
  /** The Ingress GitHub delivers to. */
  public readonly ingress: k8s.networking.v1.Ingress;

  constructor(name: string, args: GitHubTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("canary:tekton:GitHubTrigger", name, {}, opts);

    const clusterProblems = rbacProblems(EVENT_LISTENER_CLUSTER_RULES, "cluster");
    if (clusterProblems.length > 0) {
      throw new pulumi.ResourceError(`EventListener RBAC: ${clusterProblems.join("; ")}`, this);
    }
    const url = webhookUrl(args.app, args.webhook);
    const webhookSecretName = `${args.app}-github-webhook`;
    const serviceAccountName = `${args.app}-eventlistener`;

    // Manifests first, from the pure builders (Triggers' admission rules check them at test
    // time: conformance/triggersRules.ts).
    const spec: GitHubTriggerSpec = {
      name: args.app,
      namespace: args.namespace,
      owner: args.github.owner,
      repository: args.github.repository,
      branch: args.github.branch,
      webhookSecretName,
      webhookSecretKey: WEBHOOK_SECRET_KEY,
      serviceAccountName,
      pipelineRunServiceAccountName: args.pipelineRunServiceAccountName,
      pipelineName: pipelineResourceNames(args.app).pipeline,
      ...(args.dockerConfigSecretName !== undefined
        ? { dockerConfigSecretName: args.dockerConfigSecretName }
        : {}),
    };
    const { eventListener, binding, template } = githubTriggerManifests(spec);
    // Before the sink runs: it may start only the app's Pipeline, as the pipeline's account.
    const runGuard = admissionGuardResources(this, `${name}-run-guard`, listenerRunGuard(spec));
    const secret = pulumi.secret(args.webhookSecret);
    const webhookSecret = new k8s.core.v1.Secret(
      `${name}-webhook-secret`,
      {
        metadata: { name: webhookSecretName, namespace: args.namespace },
        type: "Opaque",
        stringData: { [WEBHOOK_SECRET_KEY]: secret },
      },
      { parent: this },
    );

    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-eventlistener`,
      { metadata: { name: serviceAccountName, namespace: args.namespace } },
      { parent: this },
    );
    const subject = { kind: "ServiceAccount", name: serviceAccountName, namespace: args.namespace };
    // The sink's own Role, of exactly what it calls (EVENT_LISTENER_RULES), rather than
    // upstream's tekton-triggers-eventlistener-roles bound as is.
    const listenerRole = new k8s.rbac.v1.Role(
      `${name}-eventlistener`,
      {
        metadata: { name: serviceAccountName, namespace: args.namespace },
        rules: roleRules(EVENT_LISTENER_RULES),
      },
      { parent: this },
    );
    new k8s.rbac.v1.RoleBinding(
      `${name}-eventlistener`,
      {
        metadata: { name: serviceAccountName, namespace: args.namespace },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: serviceAccountName },
        subjects: [subject],
      },
      { parent: this, dependsOn: [serviceAccount, listenerRole] },
    );
    // Cluster-scoped names are shared by every namespace: include the namespace in them.
    const clusterRoleName = `canary-release-${args.namespace}-${args.app}-eventlistener`;
    const clusterRole = new k8s.rbac.v1.ClusterRole(
      `${name}-eventlistener-cluster`,
      {
        metadata: { name: clusterRoleName },
        rules: roleRules(EVENT_LISTENER_CLUSTER_RULES),
      },
      { parent: this },
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-eventlistener-cluster`,
      {
        metadata: { name: clusterRoleName },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: clusterRoleName,
        },
        subjects: [subject],
      },
      { parent: this, dependsOn: [serviceAccount, clusterRole] },
    );

    const child = { parent: this };
    const bindingResource = new k8s.apiextensions.CustomResource(
      `${name}-binding`,
      withNamespace(binding, args.namespace),
      child,
    );
    const templateResource = new k8s.apiextensions.CustomResource(
      `${name}-template`,
      withNamespace(template, args.namespace),
      child,
    );
    const listener = new k8s.apiextensions.CustomResource(
      `${name}-eventlistener`,
      withNamespace(eventListener, args.namespace),
      { parent: this, dependsOn: [bindingResource, templateResource, serviceAccount, ...runGuard] },
    );

    const ingress = webhookIngress(args.app, eventListenerName(spec), args.webhook);
    // Pulumi waits for an Ingress until it has an address and every backend Service (here the
    // `el-<listener>` Service the Triggers controller makes) exists with endpoints.
    const entry = new k8s.networking.v1.Ingress(
      `${name}-webhook`,
      {
        metadata: {
          name: `${args.app}-github-webhook`,
          namespace: args.namespace,
          annotations: ingress.annotations,
        },
        spec: ingress.spec as k8s.types.input.networking.v1.IngressSpec,
      },
      { parent: this, dependsOn: [listener] },
    );

    if (args.registerWebhook ?? true) {
      new github.RepositoryWebhook(
        `${name}-webhook`,
        {
          repository: args.github.repository,
          events: ["push"],
          active: true,
          configuration: {
            url,
            contentType: "json",
            secret,
            insecureSsl: false,
          },
        },
        // GitHub pings the URL as soon as the hook exists: everything on the way must be up,
        // down to the Secret the interceptor checks the signature with.
        { parent: this, dependsOn: [listener, entry, webhookSecret] },
      );
    }

    this.eventListener = listener;
    this.ingress = entry;
    this.webhookUrl = url;
    this.eventListenerName = eventListenerName(spec);
    this.registerOutputs({
      webhookUrl: this.webhookUrl,
      eventListenerName: this.eventListenerName,
    });
  }
}
