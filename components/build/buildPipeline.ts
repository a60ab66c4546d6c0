import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  BuildPipelineSpec,
  DEFAULT_STEP_IMAGES,
  pipelineCodeManifest,
  pipelineManifest,
  StepImages,
  taskManifests,
} from "./buildPipelineManifests";
import { codeConfigMapResource } from "../shared/codeConfigMap";
import { withNamespace } from "../shared/manifest";
import { pipelineResourceNames } from "../../common/pipelineContract";
import { pipelineRules } from "../shared/rbac";
import { serviceAccountWithRole } from "../shared/serviceAccount";

export interface BuildPipelineArgs {
  /** The Knative Configuration the pipeline deploys; revisions are `<app>-<sha7>`. */
  readonly app: string;
  /**
   * The namespace, by name. When the stack creates it, order after it with the component's
   * `dependsOn` option (children wait for their parent, and are deleted before it).
   */
  readonly namespace: string;
  /** Image repository the build pushes `<repository>:<commit sha>` to. */
  readonly imageRepository: string;
  /** Push without TLS verification (a plain-HTTP registry). Default false. */
  readonly insecureRegistry?: boolean;
  /** Build context inside the application repository. Default `.`. */
  readonly contextDir?: string;
  /** Dockerfile relative to the build context. Default `Dockerfile`. */
  readonly dockerfile?: string;
  /** Step images; each unset one uses the pinned default of DEFAULT_STEP_IMAGES. */
  readonly stepImages?: Partial<StepImages>;
  /** Docker config JSON (a secret) to push and pull; unset: an anonymous registry. */
  readonly registryCredentials?: pulumi.Input<string>;
  /** Secret with a commit-status token (key `token`); unset: no build statuses. */
  readonly statusTokenSecretName?: string;
}

/**
 * The Tekton Pipeline that turns a commit into a Knative revision `<app>-<sha7>` at 0 % traffic:
 * fetch the commit, build and push the image with buildah, apply the Configuration. Also the
 * service accounts, the namespaced RBAC the deploy step needs, the credentials Secrets, and the
 * ConfigMap of the Node steps' code.
 */
export class BuildPipeline extends pulumi.ComponentResource {
  public readonly pipelineName: string;
  /** Service account PipelineRuns must run as. */
  public readonly serviceAccountName: string;
  /** The kubernetes.io/dockerconfigjson Secret, when registry credentials are configured. */
  public readonly dockerConfigSecretName: string | undefined;
  /** The Tekton Pipeline `<app>-build-deploy`. */
  public readonly pipeline: k8s.apiextensions.CustomResource;
  /** Its Tasks: fetch-source, build-image, deploy and (with a token) commit-status. */
  public readonly tasks: readonly k8s.apiextensions.CustomResource[];

  constructor(name: string, args: BuildPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("canary:tekton:BuildPipeline", name, {}, opts);

    const names = pipelineResourceNames(args.app);
    const registrySecretName =
      args.registryCredentials !== undefined ? names.registrySecret : undefined;
    const statusSecretName = args.statusTokenSecretName;
    const pipelineServiceAccountName = names.pipelineServiceAccount;

    const spec: BuildPipelineSpec = {
      app: args.app,
      namespace: args.namespace,
      imageRepository: args.imageRepository,
      insecureRegistry: args.insecureRegistry ?? false,
      contextDir: args.contextDir ?? ".",
      dockerfile: args.dockerfile ?? "Dockerfile",
      images: { ...DEFAULT_STEP_IMAGES, ...args.stepImages },
      appServiceAccountName: args.app,
      ...(statusSecretName !== undefined ? { statusTokenSecretName: statusSecretName } : {}),
    };
    const tasks = taskManifests(spec);
    const pipeline = pipelineManifest(spec);

    const credentials: pulumi.Resource[] = [];
    if (args.registryCredentials !== undefined && registrySecretName !== undefined) {
      credentials.push(
        new k8s.core.v1.Secret(
          `${name}-registry`,
          {
            metadata: { name: registrySecretName, namespace: args.namespace },
            type: "kubernetes.io/dockerconfigjson",
            stringData: { ".dockerconfigjson": pulumi.secret(args.registryCredentials) },
          },
          { parent: this },
        ),
      );
    }
    // The app's own service account: Knative pulls the image with its imagePullSecrets.
    new k8s.core.v1.ServiceAccount(
      `${name}-app`,
      {
        metadata: { name: args.app, namespace: args.namespace },
        ...(registrySecretName !== undefined
          ? { imagePullSecrets: [{ name: registrySecretName }] }
          : {}),
      },
      { parent: this, dependsOn: credentials },
    );

    serviceAccountWithRole(
      this,
      `${name}-pipeline`,
      pipelineServiceAccountName,
      pipelineRules(args.app),
      args.namespace,
    );

    // The Node steps' programs and the shared modules they require, mounted by their Tasks.
    const code = codeConfigMapResource(
      this,
      `${name}-code`,
      pipelineCodeManifest(spec),
      args.namespace,
    );

    const taskResources = tasks.map(
      (task) =>
        new k8s.apiextensions.CustomResource(
          `${name}-task-${String(task.metadata?.name)}`,
          withNamespace(task, args.namespace),
          // After the code the deploy and commit-status Tasks mount: a run never finds it missing.
          { parent: this, dependsOn: [code] },
        ),
    );
    this.pipeline = new k8s.apiextensions.CustomResource(
      `${name}-pipeline`,
      withNamespace(pipeline, args.namespace),
      { parent: this, dependsOn: taskResources },
    );
    this.tasks = taskResources;

    this.pipelineName = names.pipeline;
    this.serviceAccountName = pipelineServiceAccountName;
    this.dockerConfigSecretName = registrySecretName;
    this.registerOutputs({
      pipelineName: this.pipelineName,
      serviceAccountName: this.serviceAccountName,
      dockerConfigSecretName: this.dockerConfigSecretName,
    });
  }
}
