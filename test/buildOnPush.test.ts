// Build on push under mocks: the pipeline, the trigger, the Ingress and the GitHub webhook the
// stack registers, their secrets and their RBAC.
import { strict as assert } from "assert";
import {
  everyRevisionPassed,
  ProgramRun,
  RecordedResource,
  runProgram,
  STAND_IN_SECRETS,
} from "../conformance/programRunner";
import { PolicyRule, rbacProblems } from "../components/shared/rbac";
import { named, ofType } from "./support/resources";
import { PROD_CANARY_IN_PROGRESS, prodStack } from "./support/prodStack";

const SECRET = "kubernetes:core/v1:Secret";
const SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount";
const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
const WEBHOOK = "github:index/repositoryWebhook:RepositoryWebhook";
const GITHUB_PROVIDER = "pulumi:providers:github";
const ROUTE = "kubernetes:serving.knative.dev/v1:Route";

async function prodRun(changes: Record<string, string | undefined> = {}): Promise<ProgramRun> {
  const { config, secretKeys } = prodStack(changes);
  const run = await runProgram({
    config,
    secretKeys,
    stack: "prod",
    cluster: everyRevisionPassed,
  });
  assert.equal(run.error, undefined, run.error?.message);
  return run;
}

/** Whether the input at `path` reached the engine as a secret (itself or a parent object). */
function isSecretAt(resource: RecordedResource, path: string): boolean {
  return resource.secretPaths.some(
    (secretPath) =>
      path === secretPath || path.startsWith(`${secretPath}.`) || path.startsWith(`${secretPath}[`),
  );
}

/** Every string leaf of a value, with its dotted path. */
function leaves(value: unknown, at = ""): [string, string][] {
  if (typeof value === "string") return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((item, i) => leaves(item, `${at}[${i}]`));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, at === "" ? k : `${at}.${k}`));
  }
  return [];
}

describe("build on push (prod stack under mocks)", () => {
  let run: ProgramRun;
  before(async () => {
    run = await prodRun();
  });

  it("registers the pipeline, the trigger, the Ingress and the webhook", () => {
    const types = new Set(run.resources.map((r) => r.type));
    for (const type of [
      "canary:tekton:BuildPipeline",
      "canary:tekton:GitHubTrigger",
      "kubernetes:tekton.dev/v1:Task",
      "kubernetes:tekton.dev/v1:Pipeline",
      "kubernetes:triggers.tekton.dev/v1beta1:EventListener",
      "kubernetes:triggers.tekton.dev/v1beta1:TriggerBinding",
      "kubernetes:triggers.tekton.dev/v1beta1:TriggerTemplate",
      INGRESS,
      WEBHOOK,
    ]) {
      assert.ok(types.has(type), `${type} is registered`);
    }
    assert.equal(run.outputs.webhookUrl, "https://hooks.example.com/");
    assert.equal(run.outputs.pipelineName, "hello-build-deploy");
  });

  it("the webhook Secret and the GitHub webhook carry the configured secret, both as secrets", () => {
    const secret = named(run, SECRET, "hello-github-webhook");
    const webhook = ofType(run, WEBHOOK)[0];
    const stored = (secret.inputs.stringData as { secret: string }).secret;
    const sent = (webhook.inputs.configuration as { secret: string }).secret;
    assert.equal(stored, STAND_IN_SECRETS["canary-release:webhookSecret"], "webhookSecret");
    assert.equal(sent, stored);
    assert.ok(isSecretAt(secret, "stringData.secret"), secret.secretPaths.join(", "));
    assert.ok(isSecretAt(webhook, "configuration.secret"), webhook.secretPaths.join(", "));
  });

  it("no credential appears in plain text in any registered input", () => {
    const credentials = Object.values(STAND_IN_SECRETS);
    const exposed: string[] = [];
    for (const resource of run.resources) {
      for (const [path, value] of leaves(resource.inputs)) {
        const secret = credentials.some((credential) => value.includes(credential));
        const covered = isSecretAt(resource, path);
        if (secret && !covered) exposed.push(`${resource.urn} ${path}`);
      }
    }
    assert.deepEqual(exposed, []);
  });

  it("each credential reaches its resource: registry Secret, status token Secret, GitHub provider", () => {
    const registry = named(run, SECRET, "hello-registry");
    assert.equal(registry.inputs.type, "kubernetes.io/dockerconfigjson");
    assert.equal(
      (registry.inputs.stringData as Record<string, string>)[".dockerconfigjson"],
      STAND_IN_SECRETS["canary-release:registryCredentials"],
    );
    const status = named(run, SECRET, "hello-github-status");
    assert.equal(
      (status.inputs.stringData as Record<string, string>).token,
      STAND_IN_SECRETS["canary-release:testerGithubToken"],
    );
    const provider = ofType(run, GITHUB_PROVIDER)[0];
    assert.equal(provider.inputs.owner, "acme");
    assert.equal(provider.inputs.token, STAND_IN_SECRETS["github:token"]);
    assert.ok(isSecretAt(provider, "token"));
    assert.match(ofType(run, WEBHOOK)[0].provider ?? "", /pulumi:providers:github::github::/);
  });

  it("the app's ServiceAccount pulls with the registry Secret", () => {
    const app = named(run, SERVICE_ACCOUNT, "hello");
    assert.deepEqual(app.inputs.imagePullSecrets, [{ name: "hello-registry" }]);
  });

  it("the GitHub webhook: push events, JSON, https to the webhook host", () => {
    const webhook = ofType(run, WEBHOOK)[0];
    assert.equal(webhook.inputs.repository, "hello");
    assert.deepEqual(webhook.inputs.events, ["push"]);
    assert.equal(webhook.inputs.active, true);
    const configuration = webhook.inputs.configuration as Record<string, unknown>;
    assert.equal(configuration.url, "https://hooks.example.com/");
    assert.equal(configuration.contentType, "json");
    assert.equal(configuration.insecureSsl, false);
  });

  it("the Ingress routes the host to el-<app>:8080, with cert-manager's TLS", () => {
    const ingress = named(run, INGRESS, "hello-github-webhook");
    const metadata = ingress.inputs.metadata as { annotations: Record<string, string> };
    assert.deepEqual(metadata.annotations, {
      "cert-manager.io/cluster-issuer": "letsencrypt-prod",
      "nginx.ingress.kubernetes.io/proxy-body-size": "25m",
    });
    assert.deepEqual(ingress.inputs.spec, {
      ingressClassName: "nginx",
      tls: [{ hosts: ["hooks.example.com"], secretName: "hello-webhook-tls" }],
      rules: [
        {
          host: "hooks.example.com",
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: "el-hello", port: { number: 8080 } } },
              },
            ],
          },
        },
      ],
    });
  });

  it("RBAC: no wildcard, no cluster-wide secrets; the only cluster grant is the interceptor/binding read", () => {
    const rbac = run.resources.filter((r) =>
      r.type.startsWith("kubernetes:rbac.authorization.k8s.io/"),
    );
    for (const resource of rbac) {
      const rules = (resource.inputs.rules ?? []) as PolicyRule[];
      const scope = resource.type.endsWith(":ClusterRole") ? "cluster" : "namespace";
      assert.deepEqual(rbacProblems(rules, scope), [], resource.urn);
    }
    const clusterRoles = rbac.filter((r) => r.type.endsWith(":ClusterRole"));
    assert.deepEqual(
      clusterRoles.map((r) => r.inputs.rules),
      [
        [
          {
            apiGroups: ["triggers.tekton.dev"],
            resources: ["clusterinterceptors", "clustertriggerbindings"],
            verbs: ["get", "list", "watch"],
          },
        ],
      ],
    );
    const bindings = rbac.filter((r) => r.type.endsWith(":ClusterRoleBinding"));
    assert.deepEqual(
      bindings.map((r) => (r.inputs.roleRef as { name: string }).name),
      [(clusterRoles[0].inputs.metadata as { name: string }).name],
      "cluster-wide, only the stack's own narrow ClusterRole is bound",
    );
    const roleBindingRefs = rbac
      .filter((r) => r.type.endsWith(":RoleBinding"))
      .map((r) => r.inputs.roleRef as { kind: string; name: string })
      .map((ref) => `${ref.kind}/${ref.name}`)
      .sort();
    assert.deepEqual(roleBindingRefs, [
      "Role/hello-eventlistener",
      "Role/hello-pipeline",
      "Role/hello-revision-source",
      "Role/hello-tester",
    ]);
    const roleRules = (name: string): unknown =>
      named(run, "kubernetes:rbac.authorization.k8s.io/v1:Role", name).inputs.rules;
    // Issue 15, fault 10: the pipeline patches only the app's own Configuration and reads
    // Revisions with get only; the sink has exactly what it calls, and may impersonate no one.
    assert.deepEqual(roleRules("hello-pipeline"), [
      {
        apiGroups: ["serving.knative.dev"],
        resources: ["configurations"],
        verbs: ["get", "patch"],
        resourceNames: ["hello"],
      },
      { apiGroups: ["serving.knative.dev"], resources: ["configurations"], verbs: ["create"] },
      { apiGroups: ["serving.knative.dev"], resources: ["revisions"], verbs: ["get"] },
      // deploy-revision reads its own PipelineRun: deploys follow push order (issue 15, fault 3).
      { apiGroups: ["tekton.dev"], resources: ["pipelineruns"], verbs: ["get"] },
    ]);
    assert.deepEqual(roleRules("hello-eventlistener"), [
      {
        apiGroups: ["triggers.tekton.dev"],
        resources: [
          "eventlisteners",
          "triggerbindings",
          "triggertemplates",
          "triggers",
          "interceptors",
        ],
        verbs: ["get", "list", "watch"],
      },
      { apiGroups: ["tekton.dev"], resources: ["pipelineruns"], verbs: ["create"] },
    ]);
    for (const resource of rbac) {
      const rules = (resource.inputs.rules ?? []) as PolicyRule[];
      assert.ok(
        rules.every((rule) => !rule.verbs.includes("impersonate")),
        `${resource.urn}: no impersonation`,
      );
    }
  });

  it("guards the EventListener's PipelineRuns: the app's Pipeline only, as the pipeline's account (issue 15)", () => {
    const policy = named(
      run,
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
      "canary-release-hello-hello-eventlistener-runs",
    ).inputs as { spec: { matchConditions: unknown; validations: { expression: string }[] } };
    assert.deepEqual(policy.spec.matchConditions, [
      {
        name: "the-service-account",
        expression:
          "request.userInfo.username == 'system:serviceaccount:hello:hello-eventlistener'",
      },
    ]);
    const [rule] = policy.spec.validations;
    for (const part of [
      "!has(object.spec.pipelineSpec)",
      "!has(object.spec.pipelineRef.resolver)",
      "object.spec.pipelineRef.name == 'hello-build-deploy'",
      "object.spec.taskRunTemplate.serviceAccountName == 'hello-pipeline'",
    ]) {
      assert.ok(rule.expression.includes(part), part);
    }
    named(
      run,
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
      "canary-release-hello-hello-eventlistener-runs",
    );
  });

  it("rbacProblems catches a wildcard and cluster-wide secrets", () => {
    assert.deepEqual(
      rbacProblems([{ apiGroups: ["*"], resources: ["pods"], verbs: ["get"] }], "namespace"),
      ["rules[0].apiGroups: wildcards are not allowed (*)"],
    );
    assert.equal(
      rbacProblems([{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }], "cluster").length,
      1,
    );
    assert.deepEqual(
      rbacProblems([{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }], "namespace"),
      [],
    );
  });
});

describe("build on push: what config turns on", () => {
  it("without github, webhook and image: no pipeline, no trigger, no GitHub provider", async () => {
    const run = await prodRun({
      "canary-release:github": undefined,
      "canary-release:webhook": undefined,
      "canary-release:image": undefined,
      "canary-release:source": undefined,
      "github:token": undefined,
    });
    const types = new Set(run.resources.map((r) => r.type));
    assert.equal(types.has("canary:tekton:BuildPipeline"), false);
    assert.equal(types.has("canary:tekton:GitHubTrigger"), false);
    assert.equal(types.has(GITHUB_PROVIDER), false);
    assert.equal(types.has(WEBHOOK), false);
    assert.equal(run.outputs.webhookUrl, null);
  });

  it("image alone: the pipeline, runnable by hand, and no trigger", async () => {
    const run = await prodRun({
      "canary-release:github": undefined,
      "canary-release:webhook": undefined,
      "github:token": undefined,
    });
    const types = new Set(run.resources.map((r) => r.type));
    assert.ok(types.has("kubernetes:tekton.dev/v1:Pipeline"));
    assert.equal(types.has("canary:tekton:GitHubTrigger"), false);
  });

  it("without registry credentials: no registry Secret, no imagePullSecrets", async () => {
    const run = await prodRun({ "canary-release:registryCredentials": undefined });
    assert.equal(
      ofType(run, SECRET).some(
        (r) => (r.inputs.metadata as { name: string }).name === "hello-registry",
      ),
      false,
    );
    assert.equal(named(run, SERVICE_ACCOUNT, "hello").inputs.imagePullSecrets, undefined);
  });

  it("image.insecureRegistry turns TLS verification off for the push, and only then", async () => {
    const tlsVerify = async (image: object): Promise<unknown> => {
      const step = await prodRun({ "canary-release:image": JSON.stringify(image) });
      const pipeline = ofType(step, "kubernetes:tekton.dev/v1:Pipeline")[0];
      const tasks = (
        pipeline.inputs.spec as {
          tasks: { name: string; params: { name: string; value: unknown }[] }[];
        }
      ).tasks;
      const build = tasks.find((t) => t.name === "build-image");
      return build?.params.find((p) => p.name === "tls-verify")?.value;
    };
    assert.equal(await tlsVerify({ repository: "registry.example.com/acme/hello" }), "true");
    assert.equal(
      await tlsVerify({ repository: "kind-registry:5000/hello", insecureRegistry: true }),
      "false",
    );
  });

  it("plain http only when allowed: the webhook URL is then http://", async () => {
    const run = await prodRun({
      "canary-release:webhook": JSON.stringify({ host: "hooks.example.com", allowPlainHttp: true }),
    });
    assert.equal(run.outputs.webhookUrl, "http://hooks.example.com/");
    const ingress = named(run, INGRESS, "hello-github-webhook");
    assert.equal((ingress.inputs.spec as { tls?: unknown }).tls, undefined);
  });

  it("TLS ended by a tunnel: the webhook URL is https://, the Ingress has no certificate", async () => {
    const run = await prodRun({
      "canary-release:webhook": JSON.stringify({ host: "hooks.example.com", externalTls: true }),
    });
    assert.equal(run.outputs.webhookUrl, "https://hooks.example.com/");
    const ingress = named(run, INGRESS, "hello-github-webhook");
    assert.equal((ingress.inputs.spec as { tls?: unknown }).tls, undefined);
  });

  it("github.registerWebhook false: everything but the GitHub webhook, and no github:token", async () => {
    const run = await prodRun({
      "canary-release:github": JSON.stringify({
        owner: "acme",
        repository: "hello",
        branch: "main",
        registerWebhook: false,
      }),
      "github:token": undefined,
    });
    const types = new Set(run.resources.map((r) => r.type));
    assert.ok(types.has("kubernetes:triggers.tekton.dev/v1beta1:EventListener"));
    assert.ok(types.has(INGRESS));
    assert.equal(types.has(WEBHOOK), false);
    assert.equal(types.has(GITHUB_PROVIDER), false);
    assert.equal(run.outputs.webhookUrl, "https://hooks.example.com/");
  });

  it("render mode renders the trigger but registers no GitHub webhook, and needs no github:token", async () => {
    const run = await prodRun({
      "canary-release:render": JSON.stringify({ directory: "rendered" }),
      "github:token": undefined,
    });
    const types = new Set(run.resources.map((r) => r.type));
    assert.ok(types.has("kubernetes:triggers.tekton.dev/v1beta1:EventListener"));
    assert.equal(types.has(WEBHOOK), false);
    assert.equal(types.has(GITHUB_PROVIDER), false);
    assert.ok(
      run.logs.some((line) => /Render mode: the GitHub webhook is not registered/.test(line)),
      run.logs.join("\n"),
    );
  });

  it("a canary step with build on push still changes only the Route", async () => {
    const at = async (percent: number): Promise<Map<string, string>> => {
      const step = await prodRun({
        ...PROD_CANARY_IN_PROGRESS,
        "canary-release:canaryPercent": String(percent),
      });
      return new Map(step.resources.map((r) => [r.urn, JSON.stringify(r.inputs)]));
    };
    const before = await at(20);
    const after = await at(50);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    const changed = [...before.keys()].filter((urn) => before.get(urn) !== after.get(urn));
    assert.deepEqual(changed.length, 1, changed.join(", "));
    assert.ok(changed[0].includes(ROUTE.slice("kubernetes:".length)), changed[0]);
  });
});
