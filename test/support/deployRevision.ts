// The Knative Configuration that functions/pipeline/deploy-revision.js applies, built by that
// script itself (it runs in the cluster, where it cannot import TypeScript): the tests compare
// the pipeline's params, the CRD schema and the fake API server's requests with it. Test-only,
// so the preview never loads the script.
import * as path from "path";
import type { Manifest } from "../../common/json";
import { FUNCTIONS_DIR } from "../../components/shared/inClusterCode";
import { PIPELINE_PROGRAMS } from "../../components/build/buildPipelineManifests";

export interface ConfigurationOptions {
  readonly app: string;
  readonly namespace?: string;
  /** `<app>-<short sha>`. */
  readonly revisionName: string;
  /** `<repository>@sha256:<digest>`. */
  readonly image: string;
  /** Full commit SHA. */
  readonly commit: string;
  readonly repositoryUrl: string;
  /** ISO 8601 with an offset; recorded normalized to UTC. */
  readonly commitTimestamp: string;
  readonly serviceAccountName: string;
  /** `<RFC 3339 time> <PipelineRun name>`: the run that points the Configuration (push order). */
  readonly deployOrder?: string;
}

interface DeployRevisionScript {
  readonly buildConfiguration: (input: ConfigurationOptions) => Manifest;
}

const deployRevisionScript = require(
  path.join(FUNCTIONS_DIR, PIPELINE_PROGRAMS.deployRevision),
) as DeployRevisionScript;

/**
 * The serving.knative.dev/v1 Configuration that deploy-revision applies for a commit. Throws an
 * Error naming the invalid field.
 */
export function configurationManifest(options: ConfigurationOptions): Manifest {
  return deployRevisionScript.buildConfiguration(options);
}
