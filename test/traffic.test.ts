import { strict as assert } from "assert";
import { isDns1035Label } from "../common/dnsNames";
import {
  TAG_CANDIDATE,
  TAG_LATEST,
  TAG_STABLE,
  TrafficTarget,
  trafficFor,
} from "../common/traffic";
import { TrafficError, isQualifiedName, validateTraffic } from "../conformance/knativeRules";

// Asserts exactly one error, at `path`, whose message contains `fragment`. Exactness matters:
// each invalid case is built so that only the rule under test can fire.
function assertOnly(errors: TrafficError[], path: string, fragment: string): void {
  assert.equal(errors.length, 1, `expected one error, got ${JSON.stringify(errors)}`);
  assert.equal(errors[0].path, path);
  assert.ok(
    errors[0].message.includes(fragment),
    `message ${JSON.stringify(errors[0].message)} should contain ${JSON.stringify(fragment)}`,
  );
}

function assertNoUndefinedValues(traffic: TrafficTarget[]): void {
  for (const target of traffic) {
    for (const [key, value] of Object.entries(target)) {
      assert.notEqual(value, undefined, `key ${key} is present but undefined`);
    }
  }
}

const rev = (revisionName: string, percent?: number): TrafficTarget =>
  percent === undefined ? { revisionName } : { revisionName, percent };

describe("trafficFor", () => {
  it("exports the tag names Knative URLs are built from", () => {
    assert.equal(TAG_STABLE, "stable");
    assert.equal(TAG_CANDIDATE, "candidate");
    assert.equal(TAG_LATEST, "latest");
  });

  it("sends everything to the latest revision when there is no stable revision", () => {
    const traffic = trafficFor({ app: "web", canaryPercent: 0 });
    assert.deepEqual(traffic, [
      { tag: "latest", configurationName: "web", latestRevision: true, percent: 100 },
    ]);
    assertNoUndefinedValues(traffic);
    assert.deepEqual(validateTraffic(traffic, "Route"), []);
  });

  it("pins everything to the stable revision and keeps latest tagged at 0%", () => {
    const traffic = trafficFor({ app: "web", stableRevision: "web-00001", canaryPercent: 0 });
    assert.deepEqual(traffic, [
      { tag: "stable", revisionName: "web-00001", percent: 100 },
      { tag: "latest", configurationName: "web", latestRevision: true, percent: 0 },
    ]);
    assertNoUndefinedValues(traffic);
    assert.deepEqual(validateTraffic(traffic, "Route"), []);
  });

  for (const p of [0, 1, 50, 99, 100]) {
    it(`splits stable ${100 - p}% / candidate ${p}%`, () => {
      const traffic = trafficFor({
        app: "web",
        stableRevision: "web-00001",
        candidateRevision: "web-00002",
        canaryPercent: p,
      });
      assert.deepEqual(traffic, [
        { tag: "stable", revisionName: "web-00001", percent: 100 - p },
        { tag: "candidate", revisionName: "web-00002", percent: p },
        { tag: "latest", configurationName: "web", latestRevision: true, percent: 0 },
      ]);
      assertNoUndefinedValues(traffic);
      assert.deepEqual(validateTraffic(traffic, "Route"), []);
    });
  }

  // Plans config.ts refuses (a candidate without a stable revision, canary traffic without a
  // candidate, a percent outside 0..100, names Knative would reject) never reach trafficFor:
  // they are in the bad-config corpus of test/config.test.ts.
});

describe("validateTraffic", () => {
  describe("percent within 0..100 (validateTrafficPercentage)", () => {
    it("accepts 0 and 100", () => {
      assert.deepEqual(validateTraffic([rev("a", 100), rev("b", 0)], "Route"), []);
    });

    it("rejects -1 and 101, each at its own percent path", () => {
      // -1 + 101 = 100, so the sum rule stays quiet and only the bounds rule can fire.
      assert.deepEqual(validateTraffic([rev("a", -1), rev("b", 101)], "Route"), [
        { path: "spec.traffic[0].percent", message: "expected 0 <= -1 <= 100" },
        { path: "spec.traffic[1].percent", message: "expected 0 <= 101 <= 100" },
      ]);
    });
  });

  describe("percent is an integer (Go int64 field)", () => {
    it("rejects fractions", () => {
      const errors = validateTraffic([rev("a", 12.5), rev("b", 87.5)], "Route");
      assert.deepEqual(
        errors.map((e) => e.path),
        ["spec.traffic[0].percent", "spec.traffic[1].percent"],
      );
      assert.ok(errors.every((e) => e.message.includes("must be an integer")));
    });
  });

  describe("percents sum to 100 (validateTrafficList)", () => {
    it("accepts a sum of exactly 100, counting an unset percent as 0", () => {
      assert.deepEqual(validateTraffic([rev("a", 100), rev("b")], "Route"), []);
      assert.deepEqual(validateTraffic([rev("a", 40), rev("b", 60)], "Route"), []);
    });

    it("rejects 95 and gives the actual sum", () => {
      assertOnly(
        validateTraffic([rev("a", 90), rev("b", 5)], "Route"),
        "spec.traffic",
        "Traffic targets sum to 95, want 100",
      );
    });

    it("counts an unset percent as 0, not as the remainder", () => {
      assertOnly(
        validateTraffic([rev("a", 60), rev("b")], "Route"),
        "spec.traffic",
        "Traffic targets sum to 60, want 100",
      );
      assertOnly(
        validateTraffic([rev("a"), rev("b")], "Route"),
        "spec.traffic",
        "Traffic targets sum to 0, want 100",
      );
    });

    it("rejects an empty Route traffic list (no defaulting for Routes)", () => {
      assertOnly(
        validateTraffic([], "Route"),
        "spec.traffic",
        "Traffic targets sum to 0, want 100",
      );
    });

    it("accepts an empty Service traffic list (defaulted to 100% latest)", () => {
      assert.deepEqual(validateTraffic([], "Service"), []);
    });
  });

  describe("tags are DNS-1035 labels", () => {
    it("accepts valid labels, including 63 characters, and treats an empty tag as unset", () => {
      for (const tag of ["stable", "a", "canary-2", "x".repeat(63), ""]) {
        assert.deepEqual(
          validateTraffic([{ tag, revisionName: "a", percent: 100 }], "Route"),
          [],
          `tag ${JSON.stringify(tag)}`,
        );
      }
    });

    for (const tag of ["Stable", "1abc", "a_b", "a-", "a.b"]) {
      it(`rejects ${JSON.stringify(tag)}`, () => {
        assertOnly(
          validateTraffic([{ tag, revisionName: "a", percent: 100 }], "Route"),
          "spec.traffic[0].tag",
          `invalid value "${tag}": not a DNS 1035 label`,
        );
      });
    }

    it("rejects a 64-character tag and says why", () => {
      const tag = "a".repeat(64);
      assertOnly(
        validateTraffic([{ tag, revisionName: "a", percent: 100 }], "Route"),
        "spec.traffic[0].tag",
        "must be no more than 63 characters",
      );
    });

    it("isDns1035Label follows IsDNS1035Label", () => {
      assert.equal(isDns1035Label("stable"), true);
      assert.equal(isDns1035Label("a".repeat(63)), true);
      assert.equal(isDns1035Label("a".repeat(64)), false);
      assert.equal(isDns1035Label(""), false);
      assert.equal(isDns1035Label("Stable"), false);
      assert.equal(isDns1035Label("1abc"), false);
      assert.equal(isDns1035Label("a_b"), false);
      assert.equal(isDns1035Label("-a"), false);
      assert.equal(isDns1035Label("a-"), false);
    });
  });

  describe("tags are unique", () => {
    it("accepts distinct tags on the same revision", () => {
      const traffic = [
        { tag: "one", revisionName: "a", percent: 50 },
        { tag: "two", revisionName: "a", percent: 50 },
      ];
      assert.deepEqual(validateTraffic(traffic, "Route"), []);
    });

    it("rejects a repeated tag even on the same revision, naming both entries", () => {
      const traffic = [
        { tag: "stable", revisionName: "a", percent: 50 },
        { tag: "stable", revisionName: "a", percent: 50 },
      ];
      assertOnly(
        validateTraffic(traffic, "Route"),
        "spec.traffic[1].tag",
        'Multiple definitions for "stable" (also spec.traffic[0].tag)',
      );
    });

    it("reports every repeat against the first definition", () => {
      const traffic = [
        { tag: "x", revisionName: "a", percent: 50 },
        { tag: "x", revisionName: "b", percent: 25 },
        { tag: "x", revisionName: "c", percent: 25 },
      ];
      assert.deepEqual(validateTraffic(traffic, "Route"), [
        {
          path: "spec.traffic[1].tag",
          message: 'Multiple definitions for "x" (also spec.traffic[0].tag)',
        },
        {
          path: "spec.traffic[2].tag",
          message: 'Multiple definitions for "x" (also spec.traffic[0].tag)',
        },
      ]);
    });
  });

  describe("Route targets name exactly one of revisionName / configurationName", () => {
    it("accepts either one alone", () => {
      assert.deepEqual(validateTraffic([{ revisionName: "web-00001", percent: 100 }], "Route"), []);
      assert.deepEqual(validateTraffic([{ configurationName: "web", percent: 100 }], "Route"), []);
    });

    it("rejects neither", () => {
      assertOnly(
        validateTraffic([{ tag: "x", percent: 100 }], "Route"),
        "spec.traffic[0]",
        "expected exactly one, got neither",
      );
    });

    it("rejects neither even with latestRevision: true (only a Service implies the Configuration)", () => {
      assertOnly(
        validateTraffic([{ latestRevision: true, percent: 100 }], "Route"),
        "spec.traffic[0]",
        "expected exactly one, got neither",
      );
    });

    it("rejects both", () => {
      assertOnly(
        validateTraffic(
          [{ revisionName: "web-00001", configurationName: "web", percent: 100 }],
          "Route",
        ),
        "spec.traffic[0]",
        "expected exactly one, got both",
      );
    });

    it("reports only 'both' when both are set, like Knative's switch", () => {
      const errors = validateTraffic(
        [{ revisionName: "bad name", configurationName: "also bad", percent: 100 }],
        "Route",
      );
      assertOnly(errors, "spec.traffic[0]", "expected exactly one, got both");
    });
  });

  describe("Service targets (default configurationName)", () => {
    it("rejects configurationName, which a Route accepts", () => {
      const traffic = [{ configurationName: "web", percent: 100 }];
      assert.deepEqual(validateTraffic(traffic, "Route"), []);
      assertOnly(
        validateTraffic(traffic, "Service"),
        "spec.traffic[0].configurationName",
        "must not set the field(s)",
      );
    });

    it("rejects configurationName even next to a revisionName", () => {
      assertOnly(
        validateTraffic([{ revisionName: "a", configurationName: "web", percent: 100 }], "Service"),
        "spec.traffic[0].configurationName",
        "must not set the field(s)",
      );
    });

    it("accepts a target with neither name: latestRevision true or unset means this Service", () => {
      assert.deepEqual(validateTraffic([{ latestRevision: true, percent: 100 }], "Service"), []);
      assert.deepEqual(validateTraffic([{ tag: "x", percent: 100 }], "Service"), []);
    });

    it("accepts a revisionName", () => {
      const traffic = [
        { tag: "stable", revisionName: "web-00001", percent: 90 },
        { tag: "latest", latestRevision: true, percent: 10 },
      ];
      assert.deepEqual(validateTraffic(traffic, "Service"), []);
    });
  });

  describe("revisionName / configurationName are qualified names", () => {
    it("accepts qualified names, which allow upper case, '_' and a DNS prefix", () => {
      for (const name of ["web-00001", "My_Name.v1", "example.com/MyName", "a".repeat(63)]) {
        assert.deepEqual(validateTraffic([rev(name, 100)], "Route"), [], name);
        assert.deepEqual(
          validateTraffic([{ configurationName: name, percent: 100 }], "Route"),
          [],
          name,
        );
      }
    });

    const bad: Array<[string, string]> = [
      ["b ar", "name part must consist of alphanumeric characters"],
      ["-web", "name part must consist of alphanumeric characters"],
      ["web.", "name part must consist of alphanumeric characters"],
      ["a".repeat(64), "name part must be no more than 63 characters"],
      ["a/b/c", "a qualified name must consist of"],
      ["/web", "prefix part must be non-empty"],
      ["Example.com/web", "prefix part a lowercase RFC 1123 subdomain"],
      ["example.com/", "name part must be non-empty"],
    ];
    for (const [name, fragment] of bad) {
      it(`rejects revisionName ${JSON.stringify(name)}`, () => {
        assertOnly(
          validateTraffic([rev(name, 100)], "Route"),
          "spec.traffic[0].revisionName",
          fragment,
        );
        assertOnly(
          validateTraffic([rev(name, 100)], "Route"),
          "spec.traffic[0].revisionName",
          `invalid key name "${name}"`,
        );
      });
    }

    it("rejects a bad configurationName at its own path", () => {
      assertOnly(
        validateTraffic([{ configurationName: "b ar", percent: 100 }], "Route"),
        "spec.traffic[0].configurationName",
        'invalid key name "b ar": name part must consist of',
      );
    });

    it("isQualifiedName follows IsQualifiedName", () => {
      assert.equal(isQualifiedName("example.com/My_Name"), true);
      assert.equal(isQualifiedName("b ar"), false);
      assert.equal(isQualifiedName(""), false);
    });
  });

  describe("latestRevision agrees with revisionName (validateLatestRevision)", () => {
    it("accepts latestRevision false with a revisionName and true without one", () => {
      const traffic = [
        { revisionName: "web-00001", latestRevision: false, percent: 50 },
        { configurationName: "web", latestRevision: true, percent: 50 },
      ];
      assert.deepEqual(validateTraffic(traffic, "Route"), []);
    });

    it("rejects latestRevision true with a revisionName", () => {
      assertOnly(
        validateTraffic(
          [{ revisionName: "web-00001", latestRevision: true, percent: 100 }],
          "Route",
        ),
        "spec.traffic[0].latestRevision",
        'may not set revisionName "web-00001" when latestRevision is true',
      );
    });

    it("rejects latestRevision false without a revisionName, on a Route and on a Service", () => {
      assertOnly(
        validateTraffic(
          [{ configurationName: "web", latestRevision: false, percent: 100 }],
          "Route",
        ),
        "spec.traffic[0].latestRevision",
        'may not set revisionName "" when latestRevision is false',
      );
      assertOnly(
        validateTraffic([{ latestRevision: false, percent: 100 }], "Service"),
        "spec.traffic[0].latestRevision",
        'may not set revisionName "" when latestRevision is false',
      );
    });
  });

  describe("url is status-only (validateURL)", () => {
    it("accepts an absent or empty url", () => {
      assert.deepEqual(
        validateTraffic([{ tag: "a", revisionName: "a", percent: 100 }], "Route"),
        [],
      );
      assert.deepEqual(
        validateTraffic([{ tag: "a", revisionName: "a", percent: 100, url: "" }], "Route"),
        [],
      );
    });

    it("rejects a url, once, with or without a tag", () => {
      const url = "http://a-web.default.example.com";
      assertOnly(
        validateTraffic([{ tag: "a", revisionName: "a", percent: 100, url }], "Route"),
        "spec.traffic[0].url",
        "must not set the field(s)",
      );
      assertOnly(
        validateTraffic([{ revisionName: "a", percent: 100, url }], "Service"),
        "spec.traffic[0].url",
        "must not set the field(s)",
      );
    });
  });

  it("reports every problem at once, entry by entry, then the sum", () => {
    const traffic: TrafficTarget[] = [
      { tag: "Stable", revisionName: "web-00001", latestRevision: true, percent: 101 },
      { tag: "Stable", configurationName: "web", url: "http://x" },
      { percent: 5 },
    ];
    assert.deepEqual(
      validateTraffic(traffic, "Route").map((e) => e.path),
      [
        "spec.traffic[0].latestRevision",
        "spec.traffic[0].percent",
        "spec.traffic[0].tag",
        "spec.traffic[1].url",
        "spec.traffic[1].tag",
        "spec.traffic[1].tag",
        "spec.traffic[2]",
        "spec.traffic",
      ],
    );
    const serviceErrors = validateTraffic(traffic, "Service").map((e) => e.path);
    assert.ok(serviceErrors.includes("spec.traffic[1].configurationName"));
    assert.ok(!serviceErrors.includes("spec.traffic[2]"));
  });
});
