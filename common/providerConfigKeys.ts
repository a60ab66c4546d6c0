// The config keys of the providers whose namespaces a stack file may hold (`kubernetes:`,
// `github:`), as the providers themselves declare them: their schema's `config.variables`. A
// key outside these lists is a typo (`kubernetes:contxt: prod` would otherwise deploy prod to
// the kubeconfig's current context), refused by config.ts with the nearest known key.
//
// Not written by hand, and checked against the source on every run of the tests:
// - kubernetes: pulumi-kubernetes' schema.json of the pinned provider module
//   (toolchain/versions.json), read from the Go module cache by the real tier
//   (e2e/stacks.e2e.ts); the npm package carries no schema, and its Provider inputs differ
//   (strictMode and enableReplaceCRD are config only);
// - github: the names @pulumi/github's generated config module exports (test/config.test.ts).
// When a provider is upgraded, those tests fail and print the new list to put here.

export const PROVIDER_CONFIG_KEYS: Readonly<Record<string, readonly string[]>> = {
  kubernetes: [
    "cluster",
    "clusterIdentifier",
    "context",
    "deleteUnreachable",
    "enableConfigMapMutable",
    "enableReplaceCRD",
    "enableSecretMutable",
    "enableServerSideApply",
    "kubeconfig",
    "namespace",
    "renderYamlToDirectory",
    "skipUpdateUnreachable",
    "strictMode",
    "suppressDeprecationWarnings",
    "suppressHelmHookWarnings",
  ],
  github: [
    "appAuth",
    "baseUrl",
    "cachePath",
    "insecure",
    "legacyClient",
    "maxPerPage",
    "maxRetries",
    "organization",
    "owner",
    "parallelRequests",
    "readDelayMs",
    "retryDelayMs",
    "retryableErrors",
    "token",
    "writeDelayMs",
  ],
};
