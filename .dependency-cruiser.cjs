// The import graph flows one way (issue 14; docs/development.md, Layout, which replaces DESIGN.md's):
//   common (the leaf) <- config.ts, configKeys.ts <- components <- index.ts
//   components/<feature>/ -> its own folder, components/shared/, common/ and config
//   automation -> common and config.ts;  conformance, tests, e2e and benchmarks -> anything.
// `npm run layers` prints the violations; test/layers.test.ts fails on any, and proves on a
// fixture with a deliberate back-edge that this file catches one.
/** Where the tests, benchmarks and toolchain live: nothing the program runs may import them. */
const TEST_SIDE = "^(test|e2e|bench|toolchain)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "common-is-a-leaf",
      comment:
        "common/ is what everything shares: it imports only common/, Node's built-ins and npm " +
        "packages other than Pulumi, so it can never take part in a cycle",
      severity: "error",
      from: { path: "^common/" },
      to: {
        dependencyTypesNot: ["core"],
        pathNot: "^common/|^node_modules/(?!@pulumi/)",
      },
    },
    {
      name: "config-keys-are-pure",
      comment:
        "configKeys.ts is a table the automation library and the tests read without a program: " +
        "it imports nothing but Node's built-ins",
      severity: "error",
      from: { path: "^configKeys\\.ts$" },
      to: { dependencyTypesNot: ["core"] },
    },
    {
      name: "config-sits-on-common",
      comment: "config.ts judges user input with common/'s rules; it knows no component",
      severity: "error",
      from: { path: "^config(Keys)?\\.ts$" },
      to: { path: `^(components|automation|conformance|functions)/|^index\\.ts$|${TEST_SIDE}` },
    },
    {
      name: "components-point-down",
      comment: "components take typed config; they never reach up to the program or the tools",
      severity: "error",
      from: { path: "^components/" },
      to: { path: `^(automation|conformance)/|^index\\.ts$|${TEST_SIDE}` },
    },
    {
      name: "features-meet-in-shared",
      comment:
        "a feature folder (components/<feature>/) imports its own files, components/shared/, " +
        "common/ and config; what two features both need lives in shared/ or common/",
      severity: "error",
      from: { path: "^components/([^/]+)/" },
      to: { path: "^components/(?!shared/)[^/]+/", pathNot: "^components/$1/" },
    },
    {
      name: "automation-on-common-and-config",
      comment: "the canary command drives stacks through config, never through components",
      severity: "error",
      from: { path: "^automation/" },
      to: { path: `^(components|conformance)/|^index\\.ts$|${TEST_SIDE}` },
    },
    {
      name: "index-only-wires",
      comment: "index.ts wires config into components; it imports no tooling",
      severity: "error",
      from: { path: "^index\\.ts$" },
      to: { path: `^(automation|conformance)/|${TEST_SIDE}` },
    },
    {
      name: "no-cycles",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // A feature's tests live beside it (components/<feature>/*.test.ts); tests may import anything.
    exclude: { path: "\\.test\\.ts$" },
    // Not followed, but kept: common-is-a-leaf must see a leaf's imports of npm packages.
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
  },
};
