import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { admissionGuardResources } from "../shared/admissionGuard";
import { codeConfigMapResource } from "../shared/codeConfigMap";
import { withNamespace } from "../shared/manifest";
import { serviceAccountWithRole } from "../shared/serviceAccount";
import {
  revisionSourceManifest,
  RevisionTesterSpec,
  SOURCE_RULES,
  TESTER_RULES,
  testerCodeManifest,
  testerNames,
  testerRouteGuard,
  testerServiceManifest,
} from "./revisionTesterManifests";

/** The tester's spec (documented there), the token's key in its Secret defaulting to `token`. */
export type RevisionTesterArgs = Omit<RevisionTesterSpec, "tokenSecretKey"> & {
  readonly tokenSecretKey?: string;
};

/**
 * Smoke-tests every new revision of `<app>` once it is Ready: an ApiServerSource sends Revision
 * events to a cluster-local Knative Service running functions/revision-tester/ (shipped with
 * functions/shared/ in a content-addressed ConfigMap), which records `passed` or `failed` on the
 * Revision (and as a GitHub commit status). The canary gate reads that record before it lets a
 * candidate have traffic.
 */
export class RevisionTester extends pulumi.ComponentResource {
  public readonly serviceName: string;
  /** The tester's Knative Service. */
  public readonly service: k8s.apiextensions.CustomResource;

  constructor(name: string, args: RevisionTesterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("canary:knative:RevisionTester", name, {}, opts);

    const names = testerNames(args.app);
    const spec: RevisionTesterSpec = { ...args, tokenSecretKey: args.tokenSecretKey ?? "token" };

    const code = codeConfigMapResource(
      this,
      `${name}-code`,
      testerCodeManifest(spec),
      args.namespace,
    );

    const tester = serviceAccountWithRole(
      this,
      `${name}-tester`,
      names.serviceAccount,
      TESTER_RULES,
      args.namespace,
    );
    const source = serviceAccountWithRole(
      this,
      `${name}-source`,
      names.sourceServiceAccount,
      SOURCE_RULES,
      args.namespace,
    );

    // Before the tester runs: it may create and delete only its own smoke Routes.
    const guard = admissionGuardResources(this, `${name}-route-guard`, testerRouteGuard(spec));

    this.service = new k8s.apiextensions.CustomResource(
      `${name}-service`,
      withNamespace(testerServiceManifest(spec), args.namespace),
      { parent: this, dependsOn: [code, ...tester, ...guard] },
    );
    new k8s.apiextensions.CustomResource(
      `${name}-source`,
      withNamespace(revisionSourceManifest(spec), args.namespace),
      { parent: this, dependsOn: [this.service, ...source] },
    );

    this.serviceName = names.service;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
