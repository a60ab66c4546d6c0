// The kubernetes provider's config keys that config.ts accepts (common/providerConfigKeys.ts)
// against the provider's own schema: schema.json of the pulumi-kubernetes module the toolchain
// builds the provider from (toolchain/versions.json), fetched into the Go module cache by
// `go mod download` (already there when the toolchain built it). The npm package carries no
// schema, so this check lives in the real tier, where Go is.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PROVIDER_CONFIG_KEYS } from "../common/providerConfigKeys";
import { isRecord } from "../common/json";
import { PROJECT_ROOT } from "../conformance/programRunner";

const MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4";

describe("provider config keys against the kubernetes provider's schema", function () {
  this.timeout(5 * 60_000);

  it("kubernetes: the schema's config.variables, no more, no fewer", () => {
    const versions = JSON.parse(
      fs.readFileSync(path.join(PROJECT_ROOT, "toolchain", "versions.json"), "utf8"),
    ) as { pulumiKubernetes: { release: string; module: string } };
    const { release, module } = versions.pulumiKubernetes;
    const download = JSON.parse(
      execFileSync("go", ["mod", "download", "-json", `${MODULE}@${module}`], {
        encoding: "utf8",
        env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" },
      }),
    ) as { Dir?: string; Error?: string };
    assert.ok(download.Dir, `go mod download ${MODULE}@${module}: ${download.Error}`);
    const schema: unknown = JSON.parse(
      fs.readFileSync(
        path.join(download.Dir, "cmd", "pulumi-resource-kubernetes", "schema.json"),
        "utf8",
      ),
    );
    assert.ok(isRecord(schema) && isRecord(schema.config) && isRecord(schema.config.variables));
    const declared = Object.keys(schema.config.variables).sort();
    assert.deepEqual(
      [...PROVIDER_CONFIG_KEYS.kubernetes].sort(),
      declared,
      `common/providerConfigKeys.ts kubernetes (pulumi-kubernetes ${release}): ${JSON.stringify(declared)}`,
    );
  });
});
