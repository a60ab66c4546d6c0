import * as k8s from "@pulumi/kubernetes";
import { KNATIVE_FEATURES_CONFIG_MAP } from "../../common/knativeFeatures";
import * as pulumi from "@pulumi/pulumi";
import {
  AMENDS_RELEASE_ANNOTATION,
  CONFIG_CHECKSUM_ANNOTATION,
  CONTOUR_CONFIG_MAP,
  CONTOUR_DEPLOYMENT,
  CONTOUR_ENVOY_SERVICE,
  CONTOUR_INGRESS_CLASS,
  contourConfigChecksum,
  contourConfigFile,
  CUSTOM_RESOURCE_DEFINITION_TYPE,
  DEFAULT_INGRESS_STATUS_ADDRESS,
  KNATIVE_SERVING_NAMESPACE,
  knativeDomainData,
  knativeFeaturesData,
  knativeNetworkData,
  knativeObservabilityData,
  KOURIER_SERVICE,
  nodePortServiceSpec,
  PLATFORM_CONSUMER_NEEDS,
  PLATFORM_DEFAULT_NODE_PORTS,
  PlatformCapability,
  PlatformConsumer,
  platformInstallPlan,
  PlatformRelease,
  PlatformSettings,
  platformArgumentProblems,
  PlatformVersions,
} from "./platformManifests";

export interface PlatformArgs {
  /** Release tags to install (config `platform.versions`, defaults PLATFORM_DEFAULT_VERSIONS). */
  readonly versions: PlatformVersions;
  /** Knative domain, written to config-domain (the dev stack: `127.0.0.1.sslip.io`). */
  readonly domain: string;
  /**
   * Node port of Kourier's HTTP port, which the kind cluster maps to the host's port 80.
   * Default 31080 (examples/kind/cluster.yaml).
   */
  readonly kourierNodePort?: number;
  /**
   * Node port of Contour's Envoy HTTP port, which the kind cluster maps to the host's port
   * 8080, the target of the webhook tunnel. Default 31081 (examples/kind/cluster.yaml).
   */
  readonly ingressNodePort?: number;
  /** Address Contour reports in Ingress status. Default `127.0.0.1`. */
  readonly ingressStatusAddress?: string;
  /** Turn on routing by the `Knative-Serving-Tag` header (config `platform.tagHeaderRouting`). */
  readonly tagHeaderRouting?: boolean;
}

/**
 * Tekton Pipelines, Tekton Triggers with its core interceptors, Knative Serving with Kourier,
 * Knative Eventing and Contour (for `networking.k8s.io` Ingresses, which Kourier does not serve),
 * from pinned release manifests, for a kind cluster: Kourier's and Contour's LoadBalancer
 * Services become NodePort Services on the node ports the kind cluster maps to the host.
 *
 * Nothing of the other components may reach the API server before the CRDs and admission
 * webhooks it needs exist, so a consumer waits on its readiness list:
 *
 * ```ts
 * new BuildPipeline("build", args, { provider, dependsOn: platform.readyFor("buildPipeline") });
 * ```
 *
 * `readyFor` follows PLATFORM_CONSUMER_NEEDS; the lists behind it are public too
 * (`servingReady`, `eventingReady`, `tektonReady`, `triggersReady`, `ingressReady`). Each
 * release manifest is one `k8s.yaml.v2.ConfigFile`, which completes only once every object of
 * the release is ready (Deployments available, CRDs established), so waiting on it waits for
 * the release's webhooks. Kourier's and Contour's files skip that wait (their LoadBalancer
 * Service would never be ready on kind); the NodePort patches that follow wait for their pods.
 */
export class Platform extends pulumi.ComponentResource {
  /**
   * Knative Serving's CRDs and webhook, Kourier, the Knative config that selects it, and the
   * queue-proxy's request metrics turned on for Prometheus.
   */
  public readonly servingReady: readonly pulumi.Resource[];
  /** Knative Eventing's CRDs and webhook. */
  public readonly eventingReady: readonly pulumi.Resource[];
  /** Tekton Pipelines' CRDs and webhook. */
  public readonly tektonReady: readonly pulumi.Resource[];
  /** Tekton Triggers' CRDs and webhook, and the core ClusterInterceptors serving. */
  public readonly triggersReady: readonly pulumi.Resource[];
  /** Contour serving Ingresses and reporting their status. */
  public readonly ingressReady: readonly pulumi.Resource[];
  /** The class to give the webhook Ingress (or none: Contour also serves Ingresses without). */
  public readonly ingressClassName: string;
  public readonly kourierNodePort: number;
  public readonly ingressNodePort: number;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("canary:platform:Platform", name, {}, opts);

    const settings: PlatformSettings = {
      versions: args.versions,
      domain: args.domain,
      kourierNodePort: args.kourierNodePort ?? PLATFORM_DEFAULT_NODE_PORTS.kourierHttp,
      ingressNodePort: args.ingressNodePort ?? PLATFORM_DEFAULT_NODE_PORTS.ingressHttp,
      ingressStatusAddress: args.ingressStatusAddress ?? DEFAULT_INGRESS_STATUS_ADDRESS,
    };
    const problems = platformArgumentProblems(settings);
    if (problems.length > 0) {
      throw new pulumi.ResourceError(`Platform ${name}: ${problems.join("; ")}`, this);
    }

    const releases = new Map<PlatformRelease, k8s.yaml.v2.ConfigFile>();
    for (const step of platformInstallPlan(settings.versions)) {
      const after = step.after.map((release) => {
        const resource = releases.get(release);
        // The plan lists every release after the ones it needs; this only guards that order.
        if (resource === undefined) throw new Error(`${step.release} is planned before ${release}`);
        return resource;
      });
      releases.set(
        step.release,
        new k8s.yaml.v2.ConfigFile(
          `${name}-${kebab(step.release)}`,
          { file: step.url, ...(step.skipAwait ? { skipAwait: true } : {}) },
          { parent: this, dependsOn: after, transforms: [retainCustomResourceDefinitions] },
        ),
      );
    }
    const release = (id: PlatformRelease): k8s.yaml.v2.ConfigFile => {
      const resource = releases.get(id);
      if (resource === undefined) throw new Error(`the install plan has no ${id}`);
      return resource;
    };
    const servingCore = release("servingCore");
    const kourier = release("kourier");
    const contour = release("ingressController");
    const amends = (version: string): Record<string, string> => ({
      [AMENDS_RELEASE_ANNOTATION]: version,
    });

    // Knative's config webhook (serving-core) validates these ConfigMaps. The release's own keys
    // stay the release's: the patches only add keys, so they need no force and never take a
    // field from the release.
    const knativeConfig = (
      configMap: string,
      data: Record<string, string>,
      after: pulumi.Resource[],
    ): k8s.core.v1.ConfigMapPatch =>
      new k8s.core.v1.ConfigMapPatch(
        `${name}-${configMap}`,
        {
          metadata: {
            name: configMap,
            namespace: KNATIVE_SERVING_NAMESPACE,
            annotations: amends(settings.versions.knativeServing),
          },
          data,
        },
        { parent: this, dependsOn: after },
      );
    // Kourier must exist before Knative is told to use it.
    const network = knativeConfig("config-network", knativeNetworkData(), [servingCore, kourier]);
    const domain = knativeConfig("config-domain", knativeDomainData(settings.domain), [
      servingCore,
      kourier,
    ]);
    // Kourier plays no part here. The queue-proxy gets this config through its pod spec
    // (OBSERVABILITY_CONFIG), rendered when the revision's Deployment is, so a revision made
    // before the patch may keep exporting nothing. None is made before it here: every consumer
    // (the Route, the pipeline that deploys revisions, the tester) waits for servingReady, which
    // holds this patch.
    const observability = knativeConfig("config-observability", knativeObservabilityData(), [
      servingCore,
    ]);
    // Fields the release's own apply sets (a Service's `type`, Contour's config file) need the
    // force. The release tag in the annotations changes with a version bump, so such a patch is
    // applied again after the release's own apply has set its fields back.
    const forcedAmends = (version: string): Record<string, string> => ({
      "pulumi.com/patchForce": "true",
      ...amends(version),
    });
    const nodePort = (
      suffix: string,
      service: { readonly namespace: string; readonly name: string },
      version: string,
      port: number,
      release: k8s.yaml.v2.ConfigFile,
    ): k8s.core.v1.ServicePatch =>
      new k8s.core.v1.ServicePatch(
        `${name}-${suffix}`,
        {
          metadata: { ...service, annotations: forcedAmends(version) },
          spec: nodePortServiceSpec(port),
        },
        { parent: this, dependsOn: [release] },
      );
    const kourierService = nodePort(
      "kourier-nodeport",
      KOURIER_SERVICE,
      settings.versions.kourier,
      settings.kourierNodePort,
      kourier,
    );
    const envoyService = nodePort(
      "envoy-nodeport",
      CONTOUR_ENVOY_SERVICE,
      settings.versions.ingressController,
      settings.ingressNodePort,
      contour,
    );
    const contourConfig = contourConfigFile(settings.ingressStatusAddress);
    const contourConfigMap = new k8s.core.v1.ConfigMapPatch(
      `${name}-contour-config`,
      {
        metadata: {
          ...CONTOUR_CONFIG_MAP,
          annotations: forcedAmends(settings.versions.ingressController),
        },
        data: { "contour.yaml": contourConfig },
      },
      { parent: this, dependsOn: [contour] },
    );
    // Contour reads its file only at start: the checksum in the pod template rolls it, and
    // the patch completes once the new pods are available.
    const contourRestart = new k8s.apps.v1.DeploymentPatch(
      `${name}-contour-restart`,
      {
        metadata: { ...CONTOUR_DEPLOYMENT },
        spec: {
          template: {
            metadata: {
              annotations: { [CONFIG_CHECKSUM_ANNOTATION]: contourConfigChecksum(contourConfig) },
            },
          },
        },
      },
      { parent: this, dependsOn: [contourConfigMap] },
    );

    // Teams reach the candidate on the production host by a header (README: "Trying the
    // candidate yourself"). Nothing waits for it: only requests with the header depend on it.
    if (args.tagHeaderRouting === true) {
      knativeConfig(KNATIVE_FEATURES_CONFIG_MAP.name, knativeFeaturesData(), [servingCore]);
    }
    this.servingReady = [servingCore, kourier, network, domain, observability, kourierService];
    this.eventingReady = [release("eventingCore")];
    this.tektonReady = [release("tektonPipeline")];
    this.triggersReady = [release("tektonTriggers"), release("tektonInterceptors")];
    this.ingressReady = [contour, envoyService, contourConfigMap, contourRestart];
    this.ingressClassName = CONTOUR_INGRESS_CLASS;
    this.kourierNodePort = settings.kourierNodePort;
    this.ingressNodePort = settings.ingressNodePort;
    this.registerOutputs({
      ingressClassName: this.ingressClassName,
      kourierNodePort: this.kourierNodePort,
      ingressNodePort: this.ingressNodePort,
    });
  }

  /** What `consumer` must wait for, per PLATFORM_CONSUMER_NEEDS: pass it as `dependsOn`. */
  public readyFor(consumer: PlatformConsumer): pulumi.Resource[] {
    const lists: Record<PlatformCapability, readonly pulumi.Resource[]> = {
      serving: this.servingReady,
      eventing: this.eventingReady,
      tekton: this.tektonReady,
      triggers: this.triggersReady,
      ingress: this.ingressReady,
    };
    return PLATFORM_CONSUMER_NEEDS[consumer].flatMap((capability) => [...lists[capability]]);
  }
}

/**
 * Applied to every object of every release: a CRD is kept in the cluster when Pulumi deletes it
 * (the release removed or replaced, the Platform destroyed), so the objects of its kind survive.
 * Only Pulumi's record of it goes; a later install takes the CRD over again.
 */
export const retainCustomResourceDefinitions: pulumi.ResourceTransform = (args) =>
  args.type === CUSTOM_RESOURCE_DEFINITION_TYPE
    ? { props: args.props, opts: pulumi.mergeOptions(args.opts, { retainOnDelete: true }) }
    : undefined;

function kebab(id: string): string {
  return id.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
