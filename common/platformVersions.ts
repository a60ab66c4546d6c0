// The upstream releases the Platform installs, their pinned default tags, and the rule a user's
// tag must follow. Pure; a leaf: config.ts judges platform.versions with it, and the Platform
// component builds its install plan from the tags config accepted.

/** Release tags of the upstream projects the Platform installs. */
export interface PlatformVersions {
  /** knative/serving release, `knative-vX.Y.Z`. */
  readonly knativeServing: string;
  /** knative/eventing release, `knative-vX.Y.Z`. */
  readonly knativeEventing: string;
  /** knative-extensions/net-kourier release, `knative-vX.Y.Z` (same train as Serving). */
  readonly kourier: string;
  /** tektoncd/pipeline release, `vX.Y.Z`. */
  readonly tektonPipeline: string;
  /** tektoncd/triggers release (with its core interceptors), `vX.Y.Z`. */
  readonly tektonTriggers: string;
  /** projectcontour/contour release, `vX.Y.Z`: the Ingress controller for the webhook Ingress. */
  readonly ingressController: string;
}

/**
 * The versions the project targets: the first four are the tags of ../shared/crds (the CRDs the
 * stack is validated against); Kourier follows Serving's release train. Contour v1.33.7 is the
 * newest patch of its maintained 1.33 line found (changelogs/CHANGELOG-v1.33.7.md).
 */
export const PLATFORM_DEFAULT_VERSIONS: Readonly<PlatformVersions> = Object.freeze({
  knativeServing: "knative-v1.23.0",
  knativeEventing: "knative-v1.22.2",
  kourier: "knative-v1.23.0",
  tektonPipeline: "v1.15.0",
  tektonTriggers: "v0.37.0",
  ingressController: "v1.33.7",
});

export const PLATFORM_VERSION_FIELDS: readonly (keyof PlatformVersions)[] = Object.freeze([
  "knativeServing",
  "knativeEventing",
  "kourier",
  "tektonPipeline",
  "tektonTriggers",
  "ingressController",
]);

interface VersionForm {
  readonly label: string;
  readonly pattern: RegExp;
  readonly form: string;
}

const KNATIVE_TAG = /^knative-v\d+\.\d+\.\d+$/;
const SEMVER_TAG = /^v\d+\.\d+\.\d+$/;

const VERSION_FORMS: Readonly<Record<keyof PlatformVersions, VersionForm>> = {
  knativeServing: { label: "Knative Serving", pattern: KNATIVE_TAG, form: "knative-vX.Y.Z" },
  knativeEventing: { label: "Knative Eventing", pattern: KNATIVE_TAG, form: "knative-vX.Y.Z" },
  kourier: { label: "Kourier", pattern: KNATIVE_TAG, form: "knative-vX.Y.Z" },
  tektonPipeline: { label: "Tekton Pipelines", pattern: SEMVER_TAG, form: "vX.Y.Z" },
  tektonTriggers: { label: "Tekton Triggers", pattern: SEMVER_TAG, form: "vX.Y.Z" },
  ingressController: { label: "Contour", pattern: SEMVER_TAG, form: "vX.Y.Z" },
};

/**
 * What is wrong with a version value, or undefined. Only exact release tags pass: `latest`, a
 * branch or `1.23` would let the installed release change under an unchanged stack.
 */
export function platformVersionProblem(
  field: keyof PlatformVersions,
  value: string,
): string | undefined {
  const expected = VERSION_FORMS[field];
  if (expected.pattern.test(value)) return undefined;
  return (
    `must be an exact ${expected.label} release tag of the form ${expected.form} ` +
    `(e.g. ${PLATFORM_DEFAULT_VERSIONS[field]}); moving names such as latest or a branch are refused`
  );
}
