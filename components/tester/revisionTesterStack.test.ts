// The revision tester as the stack registers it, under mocks: the Knative Service, its code,
// the ApiServerSource, the RBAC, and the token it posts commit statuses with.
import { strict as assert } from "assert";
import * as path from "path";
import {
  everyRevisionPassed,
  ProgramRun,
  runProgram,
  STAND_IN_SECRETS,
} from "../../conformance/programRunner";
import { PolicyRule, rbacProblems } from "../shared/rbac";
import { SMOKE_TEST_LABEL, SMOKE_TEST_RESULT_ANNOTATION } from "../../common/revisionRecord";
import { FUNCTIONS_DIR } from "../shared/inClusterCode";
import { SMOKE_ROUTE_LABEL, TESTER_CODE } from "./revisionTesterManifests";
import { REVISION_ANNOTATIONS } from "../../common/pipelineContract";
import { named, only } from "../../test/support/resources";

const SERVICE = "kubernetes:serving.knative.dev/v1:Service";
const SOURCE = "kubernetes:sources.knative.dev/v1:ApiServerSource";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
const TESTER_DIR = path.join(FUNCTIONS_DIR, "revision-tester");

const BASE = {
  "canary-release:app": "hello",
  "canary-release:namespace": "hello",
  "kubernetes:context": "prod",
};

async function run(
  extra: Record<string, string> = {},
  secretKeys: string[] = [],
): Promise<ProgramRun> {
  const result = await runProgram({
    config: { ...BASE, ...extra },
    secretKeys,
    cluster: everyRevisionPassed,
  });
  assert.equal(result.error, undefined, result.error?.message);
  return result;
}

interface Container {
  image: string;
  command: string[];
  env: { name: string; value: string }[];
  volumeMounts: { name: string; mountPath: string }[];
}

function testerPod(result: ProgramRun): {
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
  container: Container;
} {
  const template = (
    only(result, SERVICE).inputs.spec as {
      template: {
        metadata: { annotations: Record<string, string> };
        spec: Record<string, unknown>;
      };
    }
  ).template;
  const container = (template.spec.containers as Container[])[0];
  return { annotations: template.metadata.annotations, spec: template.spec, container };
}

describe("revision tester in the stack", () => {
  it("a cluster-local Knative Service with one pod always up, running the shipped code", async () => {
    const result = await run();
    const service = only(result, SERVICE);
    const metadata = service.inputs.metadata as { name: string; labels: Record<string, string> };
    assert.equal(metadata.name, "hello-tester");
    assert.equal(metadata.labels["networking.knative.dev/visibility"], "cluster-local");
    const pod = testerPod(result);
    assert.equal(pod.annotations["autoscaling.knative.dev/min-scale"], "1");
    assert.equal(pod.annotations["canary-release.dev/code-sha256"], TESTER_CODE.sha256);
    assert.deepEqual(pod.container.command, ["node", "/app/revision-tester/server.js"]);
    assert.equal(pod.container.image, "docker.io/library/node:22.18.0-alpine3.22");
    assert.equal(pod.spec.serviceAccountName, "hello-tester");

    const code = only(result, CONFIG_MAP);
    const codeName = (code.inputs.metadata as { name: string }).name;
    assert.equal(codeName, `hello-tester-${TESTER_CODE.sha256.slice(0, 10)}`);
    assert.equal(code.inputs.immutable, true);
    const data = code.inputs.data as Record<string, string>;
    assert.deepEqual(data, TESTER_CODE.data);
    assert.ok("revision-tester__server.js" in data && "shared__kubernetes.js" in data);
    // Each key mounted at its path under functions/, so the modules' requires resolve.
    assert.deepEqual(pod.spec.volumes, [
      {
        name: "code",
        configMap: {
          name: codeName,
          items: Object.keys(data)
            .map((key) => ({ key, path: key.split("__").join("/") }))
            .sort((a, b) => (a.path < b.path ? -1 : 1)),
        },
      },
    ]);
    assert.deepEqual(pod.container.volumeMounts, [
      { name: "code", mountPath: "/app", readOnly: true },
    ]);
  });

  it("passes the tester config as environment variables", async () => {
    const result = await run({
      "canary-release:tester": JSON.stringify({
        path: "/healthz",
        expectStatus: 204,
        expectBody: "^ok$",
        timeoutSeconds: 3,
        image: "node:24-alpine",
      }),
    });
    const { container } = testerPod(result);
    assert.equal(container.image, "node:24-alpine");
    assert.deepEqual(container.env, [
      { name: "NAMESPACE", value: "hello" },
      { name: "CONFIGURATION", value: "hello" },
      { name: "TEST_PATH", value: "/healthz" },
      { name: "EXPECT_STATUS", value: "204" },
      { name: "EXPECT_BODY", value: "^ok$" },
      { name: "TEST_TIMEOUT_SECONDS", value: "3" },
      { name: "CLAIM_TTL_SECONDS", value: "300" },
    ]);
  });

  it("mounts testerGithubToken as a file, from a Secret that keeps it secret", async () => {
    const result = await run(
      { "canary-release:testerGithubToken": STAND_IN_SECRETS["canary-release:testerGithubToken"] },
      ["canary-release:testerGithubToken"],
    );
    const { container, spec } = testerPod(result);
    assert.ok(
      container.env.some(
        (e) => e.name === "GITHUB_TOKEN_FILE" && e.value === "/var/run/secrets/github/token",
      ),
    );
    assert.deepEqual((spec.volumes as unknown[])[1], {
      name: "github-token",
      secret: { secretName: "hello-github-status" },
    });
    const secret = named(result, "kubernetes:core/v1:Secret", "hello-github-status");
    assert.ok(secret.secretPaths.some((p) => p === "stringData" || p === "stringData.token"));
    // Never the token that manages webhooks.
    assert.equal(JSON.stringify(only(result, SERVICE).inputs).includes("github:token"), false);
  });

  it("an ApiServerSource sends the Configuration's Revision events, whole, to the tester", async () => {
    const result = await run();
    const source = only(result, SOURCE);
    assert.deepEqual(source.inputs.spec, {
      mode: "Resource",
      serviceAccountName: "hello-revision-source",
      resources: [
        {
          apiVersion: "serving.knative.dev/v1",
          kind: "Revision",
          selector: { matchLabels: { "serving.knative.dev/configuration": "hello" } },
        },
      ],
      sink: {
        ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "hello-tester" },
      },
    });
  });

  it("RBAC: the source watches revisions, the tester patches them and manages its routes; no wildcard", async () => {
    const result = await run();
    const roles = result.resources.filter(
      (r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:Role",
    );
    const rulesOf = (name: string): PolicyRule[] => {
      const role = roles.find((r) => (r.inputs.metadata as { name: string }).name === name);
      assert.ok(role, `Role ${name}`);
      return role.inputs.rules as PolicyRule[];
    };
    assert.deepEqual(rulesOf("hello-revision-source"), [
      {
        apiGroups: ["serving.knative.dev"],
        resources: ["revisions"],
        verbs: ["get", "list", "watch"],
      },
    ]);
    assert.deepEqual(rulesOf("hello-tester"), [
      {
        apiGroups: ["serving.knative.dev"],
        resources: ["revisions"],
        verbs: ["get", "list", "patch"],
      },
      {
        apiGroups: ["serving.knative.dev"],
        resources: ["routes"],
        verbs: ["get", "list", "create", "delete"],
      },
    ]);
    for (const role of roles)
      assert.deepEqual(rbacProblems(role.inputs.rules as PolicyRule[], "namespace"), []);
  });

  it("the tester accepts the environment the stack gives it, up to the longest timeout", async () => {
    const server = require(path.join(TESTER_DIR, "config.js")) as {
      readConfig: (env: Record<string, string>) => { claimTtlMs: number };
      longestTest: (config: unknown) => number;
    };
    for (const timeoutSeconds of [1, 10, 300]) {
      const result = await run({
        "canary-release:tester": JSON.stringify({ timeoutSeconds, expectBody: "^Hello" }),
      });
      const env = Object.fromEntries(testerPod(result).container.env.map((e) => [e.name, e.value]));
      assert.doesNotThrow(() => server.readConfig(env), `timeoutSeconds ${timeoutSeconds}`);
      // claimTtlSeconds promises a minute to spare over the tester's own bound.
      const config = server.readConfig(env);
      const spareMs = config.claimTtlMs - server.longestTest(config);
      assert.ok(spareMs >= 60000, `timeoutSeconds ${timeoutSeconds}: ${spareMs} ms to spare`);
    }
  });

  it("tester.enabled false: no tester resources", async () => {
    const result = await run({ "canary-release:tester": '{"enabled":false}' });
    for (const type of [SERVICE, SOURCE, CONFIG_MAP]) {
      assert.equal(
        result.resources.some((r) => r.type === type),
        false,
        type,
      );
    }
  });

  it("the tester and the stack agree on the label and annotation names", () => {
    // The tester cannot import TypeScript; its exported constants must equal the gate's.
    const exported = JSON.stringify([
      require(path.join(TESTER_DIR, "claim.js")) as Record<string, unknown>,
      require(path.join(FUNCTIONS_DIR, "shared", "knative.js")) as Record<string, unknown>,
    ]);
    for (const name of [
      SMOKE_TEST_LABEL,
      SMOKE_TEST_RESULT_ANNOTATION,
      REVISION_ANNOTATIONS.commit,
      REVISION_ANNOTATIONS.repository,
    ]) {
      assert.ok(exported.includes(name), `the tester's modules export ${name}`);
    }
  });

  it("guards the tester's Routes: it creates and deletes only its smoke Routes, in its namespace (issue 15, fault 10)", async () => {
    const result = await run();
    const smokeTest = require(path.join(TESTER_DIR, "smokeTest.js")) as Record<string, unknown>;
    assert.equal(smokeTest.SMOKE_ROUTE_LABEL, SMOKE_ROUTE_LABEL, "the label the tester sets");
    const policy = only(
      result,
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
    ).inputs as { metadata: { name: string }; spec: Record<string, unknown> };
    const binding = only(
      result,
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
    ).inputs as { spec: Record<string, unknown> };
    assert.equal(policy.metadata.name, "canary-release-hello-hello-tester-routes");
    assert.deepEqual(policy.spec.matchConditions, [
      {
        name: "the-service-account",
        expression: "request.userInfo.username == 'system:serviceaccount:hello:hello-tester'",
      },
    ]);
    const validations = JSON.stringify(policy.spec.validations);
    assert.match(validations, new RegExp(SMOKE_ROUTE_LABEL));
    assert.match(validations, /cluster-local/);
    assert.deepEqual(
      (policy.spec.matchConstraints as { resourceRules: { operations: string[] }[] })
        .resourceRules[0].operations,
      ["CREATE", "DELETE"],
    );
    assert.deepEqual(binding.spec, {
      policyName: policy.metadata.name,
      validationActions: ["Deny"],
      matchResources: {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "hello" } },
      },
    });
  });
});
