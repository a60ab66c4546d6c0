import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments, stringify } from "yaml";
import { CrdCatalog, Manifest, SchemaViolation } from "../conformance/crdValidator";

import { CRDS_DIR, sharedCatalog } from "./support/sharedCrds";

type Json = Record<string, unknown>;

/** Fails with the whole list, so a broken expectation shows what was reported instead. */
function assertViolation(violations: SchemaViolation[], path: string, messagePart: string): void {
  const found = violations.some((v) => v.path === path && v.message.includes(messagePart));
  assert.ok(
    found,
    `expected a violation at "${path}" containing ${JSON.stringify(messagePart)}, got ` +
      JSON.stringify(violations, null, 2),
  );
}

function assertValid(catalog: CrdCatalog, manifest: Manifest): void {
  assert.deepEqual(catalog.validate(manifest), []);
}

/** A minimal apiextensions/v1 CRD, group example.com, kind Widget. */
function syntheticCrd(
  schema: unknown,
  options: { kind?: string; versions?: Json[]; group?: string } = {},
): Json {
  const kind = options.kind ?? "Widget";
  const group = options.group ?? "example.com";
  const plural = `${kind.toLowerCase()}s`;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      names: { kind, plural, singular: kind.toLowerCase() },
      scope: "Namespaced",
      versions: options.versions ?? [
        { name: "v1", served: true, storage: true, schema: { openAPIV3Schema: schema } },
      ],
    },
  };
}

/** A catalog of one Widget whose root schema has `spec` = the given node. */
function widgetCatalog(spec: Json): CrdCatalog {
  return CrdCatalog.fromDocuments([syntheticCrd({ type: "object", properties: { spec } })]);
}

function widget(spec: unknown, metadata: Json = { name: "w" }): Manifest {
  return { apiVersion: "example.com/v1", kind: "Widget", metadata, spec };
}

// --- manifests shaped like the ones the stack renders -------------------------------------

function route(traffic: unknown[], extraSpec: Json = {}): Manifest {
  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Route",
    metadata: {
      name: "hello",
      namespace: "prod",
      labels: { "app.kubernetes.io/name": "hello", tier: "web" },
      annotations: { "pulumi.com/note": "canary step 2 of 5: 20% to hello-00002" },
    },
    spec: { traffic, ...extraSpec },
  };
}

const VALID_TRAFFIC = [
  { tag: "current", revisionName: "hello-00001", percent: 80, latestRevision: false },
  { tag: "candidate", revisionName: "hello-00002", percent: 20 },
  { tag: "latest", configurationName: "hello", latestRevision: true, percent: 0 },
];

function knativeService(container: Json): Manifest {
  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    metadata: { name: "hello", namespace: "prod" },
    spec: {
      template: {
        metadata: {
          name: "hello-00002",
          annotations: { "autoscaling.knative.dev/min-scale": "1" },
        },
        spec: { containers: [{ image: "ghcr.io/example/hello:1.2.3", ...container }] },
      },
    },
  };
}

function tektonTask(step: Json, spec: Json = {}): Manifest {
  return {
    apiVersion: "tekton.dev/v1",
    kind: "Task",
    metadata: { name: "build-image", namespace: "ci" },
    spec: {
      params: [{ name: "image", type: "string", default: "ghcr.io/example/hello" }],
      steps: [{ name: "build", image: "golang:1.22", script: "go build ./...", ...step }],
      ...spec,
    },
  };
}

describe("CrdCatalog with the shared upstream CRDs", function () {
  let catalog: CrdCatalog;

  before(function () {
    this.timeout(60000);
    catalog = sharedCatalog(this);
  });

  it("loads the kinds the stack renders, and skips non-CRD documents", function () {
    const kinds = catalog.kinds();
    for (const expected of [
      "serving.knative.dev/v1 Route",
      "serving.knative.dev/v1 Configuration",
      "serving.knative.dev/v1 Service",
      "serving.knative.dev/v1 Revision",
      "sources.knative.dev/v1 ApiServerSource",
      "tekton.dev/v1 Task",
      "tekton.dev/v1 Pipeline",
      "tekton.dev/v1 PipelineRun",
      "triggers.tekton.dev/v1beta1 EventListener",
      "triggers.tekton.dev/v1beta1 TriggerBinding",
      "triggers.tekton.dev/v1beta1 TriggerTemplate",
      "triggers.tekton.dev/v1beta1 Trigger",
    ]) {
      assert.ok(kinds.includes(expected), `${expected} missing from ${kinds.join(", ")}`);
    }
    assert.deepEqual(kinds, [...kinds].sort());
    assert.ok(catalog.has("serving.knative.dev/v1", "Route"));
    // 200-clusterrole.yaml holds ClusterRoles: documents of other kinds are not CRDs.
    assert.ok(!kinds.some((k) => k.startsWith("rbac.authorization.k8s.io/")));
    assert.ok(!catalog.has("rbac.authorization.k8s.io/v1", "ClusterRole"));
  });

  it("compiles the schema of every served version", function () {
    this.timeout(60000);
    assert.equal(catalog.compileAll(), catalog.kinds().length);
  });

  it("validates the ClusterInterceptor objects shipped in core-interceptors.yaml", function () {
    const file = path.join(CRDS_DIR, "tekton-triggers/core-interceptors.yaml");
    if (!fs.existsSync(file)) this.skip();
    const docs = parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS() as Manifest);
    const interceptors = docs.filter((d) => d?.kind === "ClusterInterceptor");
    assert.ok(interceptors.length > 0);
    for (const doc of interceptors)
      assert.deepEqual(catalog.validate(doc), [], doc.metadata?.name as string);
  });

  describe("Knative Route", function () {
    it("accepts a valid canary traffic split", function () {
      assertValid(catalog, route(VALID_TRAFFIC));
    });

    it("reports an unknown field in spec.traffic[0] at that path", function () {
      const violations = catalog.validate(route([{ revisionName: "hello-00001", percnt: 100 }]));
      assert.deepEqual(violations, [
        { path: "spec.traffic[0]", message: 'unknown field "percnt"' },
      ]);
    });

    it('reports a wrong type (percent: "20")', function () {
      const violations = catalog.validate(route([{ revisionName: "hello-00002", percent: "20" }]));
      assert.equal(violations.length, 1, JSON.stringify(violations));
      assertViolation(violations, "spec.traffic[0].percent", "must be integer");
    });

    it("reports unknown spec and root fields", function () {
      const manifest = { ...route(VALID_TRAFFIC, { trafic: [] }), sepc: {} };
      const violations = catalog.validate(manifest);
      assertViolation(violations, "spec", 'unknown field "trafic"');
      assertViolation(violations, "", 'unknown field "sepc"');
      assert.equal(violations.length, 2, JSON.stringify(violations));
    });

    it("reports a metadata typo (lables)", function () {
      const manifest = route(VALID_TRAFFIC);
      manifest.metadata = { name: "hello", lables: { tier: "web" } };
      assert.deepEqual(catalog.validate(manifest), [
        { path: "metadata", message: 'unknown field "lables"' },
      ]);
    });

    it("reports label values that are not strings, and bad names", function () {
      const manifest = route(VALID_TRAFFIC);
      manifest.metadata = { name: "Hello_World", labels: { tier: "web", replicas: 3 } };
      const violations = catalog.validate(manifest);
      assertViolation(violations, "metadata.labels.replicas", "must be string");
      assertViolation(violations, "metadata.name", "RFC 1123 subdomain");
      assert.equal(violations.length, 2, JSON.stringify(violations));
    });

    it("accepts labels and annotations with qualified keys, rejects a malformed key", function () {
      const manifest = route(VALID_TRAFFIC);
      manifest.metadata = {
        name: "hello",
        generateName: "hello-",
        labels: { "app.kubernetes.io/part-of": "canary", "serving.knative.dev/visibility": "" },
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": '{\n "a": 1\n}' },
        finalizers: ["example.com/cleanup"],
        ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: "1234" }],
        creationTimestamp: null,
      };
      assertValid(catalog, manifest);
      manifest.metadata = { name: "hello", labels: { "not a key": "x" } };
      assertViolation(catalog.validate(manifest), "metadata.labels", 'key "not a key"');
    });

    it("reports a missing served version with the versions that exist", function () {
      const violations = catalog.validate({
        ...route(VALID_TRAFFIC),
        apiVersion: "serving.knative.dev/v1beta1",
      });
      assert.equal(violations.length, 1, JSON.stringify(violations));
      assertViolation(violations, "apiVersion", '"v1beta1"');
      assertViolation(violations, "apiVersion", "served versions: v1");
    });
  });

  describe("Knative Service (int-or-string from the pod spec)", function () {
    it("accepts integer and string quantities and ports", function () {
      assertValid(
        catalog,
        knativeService({
          resources: { limits: { cpu: 1, memory: "256Mi" }, requests: { cpu: "100m" } },
          readinessProbe: { httpGet: { port: 8080, path: "/healthz" } },
          livenessProbe: { httpGet: { port: "http" } },
          ports: [{ name: "http1", containerPort: 8080 }],
        }),
      );
    });

    it("rejects a boolean quantity or port with one violation each", function () {
      const violations = catalog.validate(
        knativeService({
          resources: { limits: { cpu: true } },
          readinessProbe: { httpGet: { port: false } },
        }),
      );
      const container = "spec.template.spec.containers[0]";
      assertViolation(violations, `${container}.resources.limits.cpu`, "must be integer or string");
      assertViolation(
        violations,
        `${container}.readinessProbe.httpGet.port`,
        "must be integer or string",
      );
      assert.equal(violations.length, 2, JSON.stringify(violations));
    });

    it("reports an unknown container field under the template", function () {
      const violations = catalog.validate(knativeService({ imagePullPolicy: "Always", imag: "x" }));
      assert.deepEqual(violations, [
        { path: "spec.template.spec.containers[0]", message: 'unknown field "imag"' },
      ]);
    });
  });

  describe("Knative ApiServerSource (spec is preserve-unknown but typed)", function () {
    const source = (spec: Json): Manifest => ({
      apiVersion: "sources.knative.dev/v1",
      kind: "ApiServerSource",
      metadata: { name: "revision-events", namespace: "prod" },
      spec: {
        mode: "Reference",
        serviceAccountName: "events",
        resources: [{ apiVersion: "serving.knative.dev/v1", kind: "Revision" }],
        sink: { ref: { apiVersion: "v1", kind: "Service", name: "gate" } },
        ...spec,
      },
    });

    it("keeps unknown fields directly in spec but checks the declared ones", function () {
      assertValid(catalog, source({ somethingNew: { a: 1 } }));
      const violations = catalog.validate(
        source({ mode: 3, resources: [{ apiVersion: "v1", kind: "Pod", labelSelectr: {} }] }),
      );
      assertViolation(violations, "spec.mode", "must be string");
      assertViolation(violations, "spec.resources[0]", 'unknown field "labelSelectr"');
      assert.equal(violations.length, 2, JSON.stringify(violations));
    });
  });

  describe("Tekton Pipelines v1", function () {
    it("accepts a valid Task and reports a typo in a step", function () {
      assertValid(catalog, tektonTask({ env: [{ name: "CGO_ENABLED", value: "0" }] }));
      assert.deepEqual(catalog.validate(tektonTask({ scirpt: "make" })), [
        { path: "spec.steps[0]", message: 'unknown field "scirpt"' },
      ]);
    });

    it("reports duplicate sidecar ports (list-map-keys, protocol defaulted to TCP)", function () {
      const sidecars = [
        {
          name: "registry",
          image: "registry:2",
          ports: [
            { containerPort: 5000 },
            { containerPort: 5000, protocol: "TCP" },
            { containerPort: 5000, protocol: "UDP" },
          ],
        },
      ];
      const violations = catalog.validate(tektonTask({}, { sidecars }));
      assert.equal(violations.length, 1, JSON.stringify(violations));
      assertViolation(violations, "spec.sidecars[0].ports[1]", "duplicate entry");
    });

    it("accepts free-form PipelineRun param values (untyped preserve-unknown)", function () {
      assertValid(catalog, {
        apiVersion: "tekton.dev/v1",
        kind: "PipelineRun",
        metadata: { generateName: "release-" },
        spec: {
          pipelineRef: { name: "release" },
          params: [
            { name: "image", value: "ghcr.io/example/hello:1.2.3" },
            { name: "steps", value: ["5", "20", "50", "100"] },
            { name: "gate", value: { metric: "error-rate", max: "0.01" } },
          ],
          taskRunTemplate: { serviceAccountName: "release" },
        },
      });
    });

    it("reports a version that is not served, naming the served ones", function () {
      const violations = catalog.validate({ ...tektonTask({}), apiVersion: "tekton.dev/v1alpha1" });
      assert.equal(violations.length, 1, JSON.stringify(violations));
      assertViolation(violations, "apiVersion", "served versions: v1beta1, v1");
    });
  });

  describe("Tekton Triggers (schema-less CRDs)", function () {
    const kinds = ["EventListener", "TriggerBinding", "TriggerTemplate", "Trigger"];

    it("accepts any spec: only the kind, version and metadata are checked", function () {
      for (const kind of kinds) {
        assertValid(catalog, {
          apiVersion: "triggers.tekton.dev/v1beta1",
          kind,
          metadata: { name: "github-push", namespace: "ci" },
          spec: { anything: [1, "two", { three: true }], serviceAccountName: 42 },
        });
      }
    });

    it("still reports a metadata typo on an EventListener", function () {
      const violations = catalog.validate({
        apiVersion: "triggers.tekton.dev/v1beta1",
        kind: "EventListener",
        metadata: { name: "github-push", namspace: "ci" },
        spec: { triggers: [] },
      });
      assert.deepEqual(violations, [{ path: "metadata", message: 'unknown field "namspace"' }]);
    });
  });

  it("reports an unknown kind once, saying where that kind does exist", function () {
    const violations = catalog.validate({
      apiVersion: "tekton.dev/v1",
      kind: "Trigger",
      metadata: { name: "x" },
    });
    assert.equal(violations.length, 1, JSON.stringify(violations));
    assertViolation(violations, "kind", "no CustomResourceDefinition for tekton.dev/v1 Trigger");
    assertViolation(violations, "kind", "triggers.tekton.dev (versions: v1beta1, v1alpha1)");
    assert.ok(!catalog.has("tekton.dev/v1", "Trigger"));
  });
});

describe("CrdCatalog schema semantics (synthetic CRDs)", function () {
  describe("closed objects", function () {
    const catalog = widgetCatalog({
      type: "object",
      properties: {
        name: { type: "string" },
        nested: { type: "object", properties: { a: { type: "integer" } } },
        empty: { type: "object" },
        list: { type: "array", items: { type: "object", properties: { b: { type: "string" } } } },
      },
    });

    it("reports unknown fields at every level, including declared-empty objects", function () {
      const violations = catalog.validate(
        widget({
          name: "x",
          nmae: "y",
          nested: { a: 1, z: 2 },
          empty: { q: 1 },
          list: [{ b: "ok" }, { c: "no" }],
        }),
      );
      assert.deepEqual(violations.map((v) => `${v.path}: ${v.message}`).sort(), [
        'spec.empty: unknown field "q"',
        'spec.list[1]: unknown field "c"',
        'spec.nested: unknown field "z"',
        'spec: unknown field "nmae"',
      ]);
    });

    it("always allows apiVersion, kind and metadata at the root", function () {
      // The schema declares only `spec`; the root fields come from Kubernetes itself.
      assertValid(catalog, widget({ name: "x" }, { name: "w", labels: { a: "b" } }));
    });
  });

  describe("x-kubernetes-int-or-string", function () {
    const catalog = widgetCatalog({
      type: "object",
      properties: {
        withAnyOf: {
          anyOf: [{ type: "integer" }, { type: "string" }],
          "x-kubernetes-int-or-string": true,
        },
        bare: { "x-kubernetes-int-or-string": true },
        quantity: {
          type: "object",
          additionalProperties: {
            anyOf: [{ type: "integer" }, { type: "string" }],
            pattern: "^[0-9]+m?$",
            "x-kubernetes-int-or-string": true,
          },
        },
      },
    });

    it('accepts 1 and "1" in both spellings', function () {
      assertValid(catalog, widget({ withAnyOf: 1, bare: 1, quantity: { cpu: 1 } }));
      assertValid(catalog, widget({ withAnyOf: "1", bare: "1", quantity: { cpu: "500m" } }));
    });

    it("rejects true, 1.5 and objects with one readable violation each", function () {
      const violations = catalog.validate(
        widget({ withAnyOf: true, bare: 1.5, quantity: { cpu: {} } }),
      );
      assert.deepEqual(violations, [
        { path: "spec.withAnyOf", message: "must be integer or string, got boolean true" },
        { path: "spec.bare", message: "must be integer or string, got number 1.5" },
        { path: "spec.quantity.cpu", message: "must be integer or string, got object" },
      ]);
    });

    it("applies a pattern to the string form only", function () {
      assertViolation(
        catalog.validate(widget({ quantity: { cpu: "1 core" } })),
        "spec.quantity.cpu",
        "pattern",
      );
    });
  });

  describe("x-kubernetes-preserve-unknown-fields", function () {
    const catalog = widgetCatalog({
      type: "object",
      properties: {
        open: {
          type: "object",
          "x-kubernetes-preserve-unknown-fields": true,
          properties: { known: { type: "integer" } },
        },
        anything: { "x-kubernetes-preserve-unknown-fields": true },
      },
    });

    it("accepts unknown fields in the node but still types the declared ones", function () {
      assertValid(catalog, widget({ open: { known: 1, extra: { deep: [1] } } }));
      assert.deepEqual(catalog.validate(widget({ open: { known: "one" } })), [
        { path: "spec.open.known", message: 'must be integer, got string "one"' },
      ]);
    });

    it("accepts any value in an untyped preserve-unknown node", function () {
      for (const value of ["s", 1, [1, "a"], { a: { b: 1 } }, true, null]) {
        assertValid(catalog, widget({ anything: value }));
      }
    });

    it("does not open the objects around it", function () {
      assertViolation(
        catalog.validate(widget({ open: {}, other: 1 })),
        "spec",
        'unknown field "other"',
      );
    });
  });

  describe("nullable", function () {
    const catalog = widgetCatalog({
      type: "object",
      properties: {
        maybe: { type: "string", nullable: true },
        never: { type: "string" },
        choice: { type: "string", enum: ["a", "b"], nullable: true },
        box: { type: "object", nullable: true, properties: { a: { type: "string" } } },
      },
    });

    it("accepts null only where nullable: true", function () {
      assertValid(catalog, widget({ maybe: null, choice: null, box: null }));
      assertViolation(
        catalog.validate(widget({ never: null })),
        "spec.never",
        "must be string, got null",
      );
    });

    it("keeps a nullable object closed", function () {
      assert.deepEqual(catalog.validate(widget({ box: { a: "x", b: 1 } })), [
        { path: "spec.box", message: 'unknown field "b"' },
      ]);
    });

    it("keeps the enum, and says which values are allowed", function () {
      assert.deepEqual(catalog.validate(widget({ choice: "c" })), [
        { path: "spec.choice", message: "must be one of: a, b, null" },
      ]);
    });
  });

  describe("maps (additionalProperties)", function () {
    const catalog = widgetCatalog({
      type: "object",
      properties: {
        env: { type: "object", additionalProperties: { type: "string" } },
        targets: {
          type: "object",
          additionalProperties: { type: "object", properties: { weight: { type: "integer" } } },
        },
      },
    });

    it("accepts any key and rejects values of the wrong type", function () {
      assertValid(
        catalog,
        widget({ env: { "LOG.LEVEL": "debug", A: "" }, targets: { blue: { weight: 1 } } }),
      );
      const violations = catalog.validate(widget({ env: { PORT: 8080, "LOG.LEVEL": false } }));
      assert.deepEqual(violations, [
        { path: "spec.env.PORT", message: "must be string, got number 8080" },
        { path: 'spec.env["LOG.LEVEL"]', message: "must be string, got boolean false" },
      ]);
    });

    it("closes the objects inside a map", function () {
      assert.deepEqual(catalog.validate(widget({ targets: { blue: { wieght: 1 } } })), [
        { path: "spec.targets.blue", message: 'unknown field "wieght"' },
      ]);
    });
  });

  describe("x-kubernetes-embedded-resource", function () {
    const catalog = widgetCatalog({
      type: "object",
      properties: {
        template: {
          type: "object",
          "x-kubernetes-embedded-resource": true,
          properties: { spec: { type: "object", properties: { replicas: { type: "integer" } } } },
        },
      },
    });

    it("allows apiVersion, kind and metadata without declaring them", function () {
      assertValid(
        catalog,
        widget({
          template: {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "d" },
            spec: { replicas: 2 },
          },
        }),
      );
    });

    it("requires apiVersion and kind, checks metadata and closes the rest", function () {
      const violations = catalog.validate(
        widget({ template: { metadata: { nme: "d" }, spec: {}, status: {} } }),
      );
      assertViolation(violations, "spec.template", 'missing required field "apiVersion"');
      assertViolation(violations, "spec.template", 'missing required field "kind"');
      assertViolation(violations, "spec.template.metadata", 'unknown field "nme"');
      assertViolation(violations, "spec.template", 'unknown field "status"');
      assert.equal(violations.length, 4, JSON.stringify(violations));
    });
  });

  describe("list types", function () {
    const catalog = widgetCatalog({
      type: "object",
      properties: {
        tags: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" },
        ports: {
          type: "array",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["port", "protocol"],
          items: {
            type: "object",
            properties: { port: { type: "integer" }, protocol: { type: "string", default: "TCP" } },
          },
        },
        plain: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "atomic" },
      },
    });

    it("accepts distinct entries and repeats in atomic lists", function () {
      assertValid(
        catalog,
        widget({
          tags: ["a", "b"],
          ports: [{ port: 80 }, { port: 80, protocol: "UDP" }],
          plain: ["a", "a"],
        }),
      );
    });

    it("reports duplicates in set and map lists (map keys after defaulting)", function () {
      const violations = catalog.validate(
        widget({ tags: ["a", "a"], ports: [{ port: 80 }, { port: 80, protocol: "TCP" }] }),
      );
      assertViolation(violations, "spec.tags", "duplicate items [0] and [1]");
      assertViolation(violations, "spec.ports[1]", "duplicate entry: same port, protocol as [0]");
      assert.equal(violations.length, 2, JSON.stringify(violations));
    });
  });

  describe("value keywords", function () {
    const catalog = widgetCatalog({
      type: "object",
      required: ["name"],
      properties: {
        name: { type: "string", minLength: 1 },
        percent: {
          type: "integer",
          minimum: 0,
          maximum: 100,
          exclusiveMaximum: true,
          format: "int64",
        },
        replicas: { type: "integer", format: "int32" },
        at: { type: "string", format: "date-time" },
        uri: { type: "string", format: "uri" },
        target: {
          type: "object",
          properties: { ref: { type: "string" }, url: { type: "string" } },
          oneOf: [{ required: ["ref"] }, { required: ["url"] }],
        },
      },
    });

    it("reports a missing required field on the object that lacks it", function () {
      assert.deepEqual(catalog.validate(widget({})), [
        { path: "spec", message: 'missing required field "name"' },
      ]);
    });

    it("translates the boolean exclusiveMaximum of OpenAPI 3.0", function () {
      assertValid(catalog, widget({ name: "x", percent: 99 }));
      assertViolation(
        catalog.validate(widget({ name: "x", percent: 100 })),
        "spec.percent",
        "must be < 100",
      );
    });

    it("checks int32 and date-time, ignores formats it does not know", function () {
      assertValid(
        catalog,
        widget({ name: "x", replicas: 3, at: "2024-05-01T10:00:00Z", uri: "not a uri" }),
      );
      const violations = catalog.validate(
        widget({ name: "x", replicas: 2 ** 31, at: "yesterday" }),
      );
      assertViolation(violations, "spec.replicas", 'format "int32"');
      assertViolation(violations, "spec.at", 'format "date-time"');
      assert.deepEqual(catalog.unenforced("example.com/v1", "Widget"), [
        'format "uri" is not checked',
      ]);
    });

    it("folds oneOf branch errors into one violation", function () {
      assertValid(catalog, widget({ name: "x", target: { ref: "a" } }));
      const none = catalog.validate(widget({ name: "x", target: {} }));
      assert.equal(none.length, 1, JSON.stringify(none));
      assertViolation(
        none,
        "spec.target",
        'missing required field "ref"; missing required field "url"',
      );
      const both = catalog.validate(widget({ name: "x", target: { ref: "a", url: "b" } }));
      assert.equal(both.length, 1, JSON.stringify(both));
      assertViolation(both, "spec.target", "exactly one");
    });

    it("ignores undefined values, as JSON serialization does", function () {
      assertValid(catalog, widget({ name: "x", percent: undefined }));
    });
  });

  describe("metadata", function () {
    it("adds the CRD's own constraint on metadata.name to ObjectMeta", function () {
      const catalog = CrdCatalog.fromDocuments([
        syntheticCrd({
          type: "object",
          properties: {
            metadata: { type: "object", properties: { name: { type: "string", maxLength: 5 } } },
          },
        }),
      ]);
      assertValid(catalog, widget(undefined, { name: "short", labels: { a: "b" } }));
      assertViolation(
        catalog.validate(widget(undefined, { name: "too-long" })),
        "metadata.name",
        "5",
      );
      assertViolation(
        catalog.validate(widget(undefined, { name: "ok", lables: {} })),
        "metadata",
        "lables",
      );
    });
  });

  describe("versions and CEL rules", function () {
    const schema = (extra: Json): Json => ({
      type: "object",
      properties: { spec: { type: "object", properties: { size: { type: "integer" } }, ...extra } },
    });
    const catalog = CrdCatalog.fromDocuments([
      syntheticCrd(undefined, {
        versions: [
          {
            name: "v1alpha1",
            served: false,
            storage: false,
            schema: { openAPIV3Schema: schema({}) },
          },
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: schema({
                "x-kubernetes-validations": [{ rule: "self.size > 0" }, { rule: "self.size < 9" }],
              }),
            },
          },
          { name: "v2", served: true, storage: false },
        ],
      }),
    ]);

    it("lists served versions only, and names unserved ones when asked for them", function () {
      assert.deepEqual(catalog.kinds(), ["example.com/v1 Widget", "example.com/v2 Widget"]);
      const violations = catalog.validate({ ...widget({}), apiVersion: "example.com/v1alpha1" });
      assert.deepEqual(violations, [
        {
          path: "apiVersion",
          message:
            'example.com Widget has no served version "v1alpha1" (CRD widgets.example.com); ' +
            "served versions: v1, v2; not served: v1alpha1",
        },
      ]);
    });

    it("counts CEL rules as not evaluated", function () {
      assert.deepEqual(catalog.unenforced("example.com/v1", "Widget"), [
        "2 x-kubernetes-validations (CEL) rule(s) not evaluated",
      ]);
      assertValid(catalog, widget({ size: 100 }));
    });

    it("accepts anything but metadata in a version without schema", function () {
      assertValid(catalog, {
        ...widget({ whatever: 1 }),
        apiVersion: "example.com/v2",
        status: [],
      });
      assertViolation(
        catalog.validate({
          ...widget({}, { name: "w", anotations: {} }),
          apiVersion: "example.com/v2",
        }),
        "metadata",
        'unknown field "anotations"',
      );
    });

    it("reads the top-level schema of an apiextensions v1beta1 CRD", function () {
      const v1beta1 = {
        apiVersion: "apiextensions.k8s.io/v1beta1",
        kind: "CustomResourceDefinition",
        metadata: { name: "gadgets.example.com" },
        spec: {
          group: "example.com",
          version: "v1",
          names: { kind: "Gadget", plural: "gadgets" },
          validation: { openAPIV3Schema: schema({}) },
        },
      };
      const old = CrdCatalog.fromDocuments([v1beta1]);
      const gadget = { apiVersion: "example.com/v1", kind: "Gadget", metadata: { name: "g" } };
      assertValid(old, { ...gadget, spec: { size: 1 } });
      assertViolation(
        old.validate({ ...gadget, spec: { size: "1" } }),
        "spec.size",
        "must be integer",
      );
    });
  });

  it("refuses the same CRD twice, naming both sources", function () {
    assert.throws(
      () =>
        CrdCatalog.fromDocuments(
          [syntheticCrd({ type: "object" }), syntheticCrd({ type: "object" })],
          "twice.yaml",
        ),
      /found twice: widgets\.example\.com in twice\.yaml and widgets\.example\.com in twice\.yaml/,
    );
  });
});

describe("CrdCatalog loading", function () {
  let dir: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "crd-catalog-"));
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const widgetCrd = syntheticCrd({
    type: "object",
    properties: { spec: { type: "object", properties: { size: { type: "integer" } } } },
  });
  const gadgetCrd = syntheticCrd({ type: "object" }, { kind: "Gadget" });
  const clusterRole = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "reader" },
    rules: [],
  };

  it("loads `kubectl get crd -o yaml` output (one kind: List document)", function () {
    const file = path.join(dir, "cluster.yaml");
    fs.writeFileSync(
      file,
      stringify({ apiVersion: "v1", kind: "List", items: [widgetCrd, gadgetCrd], metadata: {} }),
    );
    // Both the directory and the file itself may be given.
    for (const source of [dir, file]) {
      const catalog = CrdCatalog.fromDirectory(source);
      assert.deepEqual(catalog.kinds(), ["example.com/v1 Gadget", "example.com/v1 Widget"]);
      assertViolation(catalog.validate(widget({ size: "2" })), "spec.size", "must be integer");
    }
  });

  it("loads a CustomResourceDefinitionList", function () {
    const list = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinitionList",
      items: [gadgetCrd],
    };
    assert.deepEqual(CrdCatalog.fromDocuments([list]).kinds(), ["example.com/v1 Gadget"]);
  });

  it("reads multi-document files recursively, skips other kinds and non-YAML files", function () {
    fs.writeFileSync(
      path.join(dir, "bundle.yaml"),
      [
        "---",
        stringify(clusterRole),
        "---",
        stringify(widgetCrd),
        "---",
        "# only a comment",
        "",
      ].join("\n"),
    );
    fs.mkdirSync(path.join(dir, "nested"));
    fs.writeFileSync(path.join(dir, "nested", "gadget.yml"), stringify(gadgetCrd));
    fs.writeFileSync(path.join(dir, "README.md"), "# not: [yaml\n");
    fs.writeFileSync(path.join(dir, "swagger-v1.json"), '{ "swagger": "2.0" }');
    const catalog = CrdCatalog.fromDirectory(dir);
    assert.deepEqual(catalog.kinds(), ["example.com/v1 Gadget", "example.com/v1 Widget"]);
    assert.equal(catalog.size, 2);
  });

  it("fails clearly on a missing directory", function () {
    const missing = path.join(dir, "does-not-exist");
    assert.throws(
      () => CrdCatalog.fromDirectory(missing),
      (error: Error) => {
        assert.ok(error.message.includes(missing), error.message);
        return true;
      },
    );
  });

  it("fails clearly on a directory without CRDs", function () {
    fs.writeFileSync(path.join(dir, "role.yaml"), stringify(clusterRole));
    assert.throws(() => CrdCatalog.fromDirectory(dir), {
      message: `no CustomResourceDefinition found in ${dir}`,
    });
    assert.throws(() => CrdCatalog.fromDocuments([clusterRole], "inline"), {
      message: "no CustomResourceDefinition found in inline",
    });
  });

  it("names the file that holds invalid YAML", function () {
    const file = path.join(dir, "broken.yaml");
    fs.writeFileSync(file, "kind: [CustomResourceDefinition\n");
    assert.throws(
      () => CrdCatalog.fromDirectory(dir),
      (error: Error) => {
        assert.ok(error.message.startsWith(`${file}: invalid YAML`), error.message);
        return true;
      },
    );
  });
});
