import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type {
  RevisionMetadata,
  RevisionStatus,
  SmokeTestRecord,
} from "../../common/revisionRecord";
import { CandidateGate, judgeCandidate, judgeStable } from "./revisionGate";
import { routeUrl, tagUrl } from "./routeUrls";
import { clusterLocalTags, placeholderServiceManifest } from "./tagVisibility";
import { judgeStep, StepGuardSettings } from "../../common/stepGuard";
import { TrafficTarget, trafficFor } from "../../common/traffic";

export interface CanaryRouteArgs {
  /** Name of the Knative Configuration (created by the pipeline) and of this Route. */
  readonly app: string;
  /**
   * The namespace of the Route, by name. When the stack creates it, order after it with the component's
   * `dependsOn` option (children wait for their parent, and are deleted before it).
   */
  readonly namespace: string;
  /** The cluster's Knative domain, used to compute URLs (Knative's default template). */
  readonly domain: string;
  /** Revision that keeps the rest of the traffic. Unset: bootstrap, 100 % to the latest revision. */
  readonly stableRevision?: string;
  /** Revision under test; gets `canaryPercent` % and always a `candidate` tag URL. */
  readonly candidateRevision?: string;
  /** The candidate's share, an integer 0..100. Default 0. */
  readonly canaryPercent?: number;
  /**
   * Read the candidate Revision from the cluster and hold it to these requirements (see
   * candidateGateMode). Unset: the candidate is not read, as without a cluster.
   */
  readonly candidateGate?: CandidateGate;
  /**
   * Read the stable Revision from the cluster: it must exist and be Ready (see stableGateMode).
   * Unset or false: not read.
   */
  readonly verifyStable?: boolean;
  /**
   * Refuse an update that grows any revision's share by more than `maxStepPercent` over
   * `deployedTraffic`, the `traffic` this stack last deployed (undefined: never deployed).
   * Unset: no limit.
   */
  readonly stepGuard?: StepGuardSettings & { readonly deployedTraffic: pulumi.Input<unknown> };
  /**
   * Keep the tag URLs of revisions that may not have passed (`candidate`, `latest`) inside the
   * cluster, by labelling the Services Knative keeps for those tags. Default true; false
   * publishes every tag like the production URL.
   */
  readonly clusterLocalTags?: boolean;
  /** Protect the Route from `pulumi destroy` and from replacement. Default false. */
  readonly protect?: boolean;
}

const ROUTE_API_VERSION = "serving.knative.dev/v1";

/** The fields of a Knative Revision read by the candidate gate. */
interface RevisionRead {
  readonly metadata: pulumi.Output<RevisionMetadata | undefined>;
  readonly status: pulumi.Output<RevisionStatus | undefined>;
}

/**
 * The standalone Knative Route `<app>`: Pulumi owns traffic, the pipeline owns revisions. A
 * canary step changes only this resource's `spec.traffic`.
 */
export class CanaryRoute extends pulumi.ComponentResource {
  /** `http://<app>.<namespace>.<domain>`: production traffic, split as configured. */
  public readonly url: string;
  /**
   * One URL per traffic tag (`stable`, `candidate`, `latest`), each reaching only its target;
   * cluster-local (`…svc.cluster.local`) for the tags kept inside the cluster.
   */
  public readonly urls: Readonly<Record<string, string>>;
  /** The Route's `spec.traffic`, as the API server holds it after this update. */
  public readonly traffic: pulumi.Output<TrafficTarget[]>;
  /** What the revision tester recorded on the candidate; null when it was not read. */
  public readonly candidateSmokeTest: pulumi.Output<SmokeTestRecord | null>;
  /** The Knative Route itself. */
  public readonly route: k8s.apiextensions.CustomResource;

  constructor(name: string, args: CanaryRouteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("canary:knative:CanaryRoute", name, {}, opts);

    const canaryPercent = args.canaryPercent ?? 0;
    // config.ts judged the plan before anything was registered; that every table it allows
    // passes Knative's admission rules is checked at test time (conformance/knativeRules.ts).
    const table = trafficFor({
      app: args.app,
      stableRevision: args.stableRevision,
      candidateRevision: args.candidateRevision,
      canaryPercent,
    });

    let traffic: pulumi.Output<TrafficTarget[]> = pulumi.output(table);
    let candidateSmokeTest: pulumi.Output<SmokeTestRecord | null> = pulumi.output(null);
    if (args.candidateRevision !== undefined && args.candidateGate !== undefined) {
      const verdict = this.readCandidate(
        name,
        args.candidateRevision,
        args.namespace,
        args.candidateGate,
      );
      traffic = verdict.apply(() => table);
      candidateSmokeTest = verdict.apply((v) => v.smokeTest);
    }
    if (args.stableRevision !== undefined && args.verifyStable === true) {
      const stableRead = this.readStable(name, args.stableRevision, args.namespace);
      traffic = pulumi.all([traffic, stableRead]).apply(([t]) => t);
    }
    if (args.stepGuard !== undefined) traffic = this.guardStep(traffic, args.stepGuard);

    const routeLabels = {
      "app.kubernetes.io/name": args.app,
      "app.kubernetes.io/part-of": "canary-release",
      "app.kubernetes.io/managed-by": "pulumi",
    };
    const route = new k8s.apiextensions.CustomResource(
      `${name}-route`,
      {
        apiVersion: ROUTE_API_VERSION,
        kind: "Route",
        metadata: {
          name: args.app,
          namespace: args.namespace,
          labels: routeLabels,
          // The stack owns traffic. A hand edit (`kubectl patch`) takes over spec.traffic's
          // field ownership; without force, the `pulumi up --refresh` that `canary status` names
          // for such drift fails on a server-side apply conflict instead of restoring the split.
          annotations: { "pulumi.com/patchForce": "true" },
        },
        spec: { traffic },
      },
      { parent: this, protect: args.protect ?? false },
    );

    const privateTags = clusterLocalTags(table, !(args.clusterLocalTags ?? true));
    for (const tag of privateTags) {
      // `traffic` too: when the gate or the step guard refuses it, the Route is never
      // registered and its metadata never resolves; the refusal must end these as well.
      const manifest = pulumi.all([route.metadata, traffic]).apply(([metadata]) =>
        placeholderServiceManifest({
          app: args.app,
          namespace: args.namespace,
          domain: args.domain,
          tag,
          routeUid: metadata.uid,
          routeLabels,
        }),
      );
      new k8s.core.v1.Service(
        `${name}-${tag}-visibility`,
        {
          metadata: manifest.apply(
            (m) => m.metadata,
          ) as pulumi.Input<k8s.types.input.meta.v1.ObjectMeta>,
          spec: manifest.apply((m) => m.spec) as pulumi.Input<k8s.types.input.core.v1.ServiceSpec>,
        },
        { parent: this, dependsOn: [route] },
      );
    }

    // What the API server holds once the Route is applied, not the plan: when the update of the
    // Route fails, this output never resolves and the engine keeps the last deployment's. (A
    // plan-derived output was saved even when the API server refused the Route, found by the
    // real tier, and the step guard then measured from a split that was never deployed.) The
    // planned `traffic` is joined in so that a refusal by the gate or the guard, which keeps the
    // Route from being registered at all, ends this output too.
    const applied = (route as unknown as { spec: pulumi.Output<{ traffic: TrafficTarget[] }> })
      .spec;
    this.traffic = pulumi.all([traffic, applied]).apply(([, spec]) => spec.traffic);
    this.candidateSmokeTest = candidateSmokeTest;
    this.route = route;
    const ns = args.namespace;
    this.url = routeUrl(args.app, ns, args.domain);
    this.urls = Object.fromEntries(
      table.flatMap((target) =>
        target.tag === undefined
          ? []
          : [
              [
                target.tag,
                tagUrl(target.tag, args.app, ns, args.domain, privateTags.includes(target.tag)),
              ],
            ],
      ),
    );
    this.registerOutputs({
      url: this.url,
      urls: this.urls,
      traffic: this.traffic,
      candidateSmokeTest: this.candidateSmokeTest,
    });
  }

  /**
   * The traffic, once the step from the last deployment is known to be small enough; like the
   * gate, a refusal fails the preview before the Route is sent anywhere.
   */
  private guardStep(
    traffic: pulumi.Output<TrafficTarget[]>,
    guard: NonNullable<CanaryRouteArgs["stepGuard"]>,
  ): pulumi.Output<TrafficTarget[]> {
    return pulumi.all([traffic, guard.deployedTraffic]).apply(([table, deployed]) => {
      const verdict = judgeStep(deployed, table, guard);
      if (verdict.refusal !== undefined) throw new pulumi.ResourceError(verdict.refusal, this);
      if (verdict.warning !== undefined) void pulumi.log.warn(verdict.warning, this);
      return table;
    });
  }

  /**
   * Reads the candidate Revision (read-only; Pulumi performs reads during preview too) and
   * judges it. The Route's traffic waits for the verdict, so the Route is never sent to the
   * cluster with traffic for a revision the gate refuses.
   */
  private readCandidate(
    name: string,
    candidate: string,
    namespace: string,
    gate: CandidateGate,
  ): pulumi.Output<ReturnType<typeof judgeCandidate>> {
    const revision = this.readRevision(`${name}-candidate-revision`, namespace, candidate);
    return pulumi
      .all([revision.metadata, revision.status, namespace])
      .apply(([metadata, status, ns]) => {
        const verdict = judgeCandidate(candidate, ns, { metadata, status }, gate);
        if (verdict.refusal !== undefined) throw new pulumi.ResourceError(verdict.refusal, this);
        if (verdict.warning !== undefined) void pulumi.log.warn(verdict.warning, this);
        return verdict;
      });
  }

  /** Reads the stable Revision and refuses the update unless it exists and is Ready. */
  private readStable(name: string, stable: string, namespace: string): pulumi.Output<true> {
    const revision = this.readRevision(`${name}-stable-revision`, namespace, stable);
    return pulumi.all([revision.status, namespace]).apply(([status, ns]) => {
      const refusal = judgeStable(stable, ns, status);
      if (refusal !== undefined) throw new pulumi.ResourceError(refusal, this);
      return true as const;
    });
  }

  /** A Revision as the cluster holds it (read-only: Pulumi reads during preview too). */
  private readRevision(resourceName: string, namespace: string, revision: string): RevisionRead {
    // CustomResource.get would expose only apiVersion/kind; declaring metadata and status makes
    // the read return them.
    return new k8s.apiextensions.CustomResource(
      resourceName,
      { apiVersion: ROUTE_API_VERSION, kind: "Revision", metadata: undefined, status: undefined },
      { parent: this, id: pulumi.interpolate`${namespace}/${revision}` },
    ) as unknown as RevisionRead;
  }
}
