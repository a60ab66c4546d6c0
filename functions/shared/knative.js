// Knative Serving as the stack's in-cluster programs see it: where its objects are, and the
// annotations the pipeline writes on every revision for the tester to read.
"use strict";

const SERVING_API = "/apis/serving.knative.dev/v1";

/** Same names as REVISION_ANNOTATIONS in common/pipelineContract.ts (a test keeps them equal). */
const REVISION_ANNOTATIONS = Object.freeze({
  commit: "canary-release.dev/commit",
  repository: "canary-release.dev/repository",
  commitTimestamp: "canary-release.dev/commit-timestamp",
});

/** The label Knative puts on every Revision: the Configuration it belongs to. */
const CONFIGURATION_LABEL = "serving.knative.dev/configuration";

/** `/apis/serving.knative.dev/v1/namespaces/<namespace>/<resource>[/<name>]`. */
function servingPath(namespace, resource, name) {
  const collection = `${SERVING_API}/namespaces/${namespace}/${resource}`;
  return name === undefined ? collection : `${collection}/${name}`;
}

module.exports = { SERVING_API, REVISION_ANNOTATIONS, CONFIGURATION_LABEL, servingPath };
