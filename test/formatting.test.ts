// The formatter's reach: prettier formats the project's code and docs, but not the stack files,
// whose format belongs to the Pulumi CLI (`pulumi config set` writes them), and which people edit
// by hand in pull requests (`canaryPercent: '50'`): `npm test` must not fail on their quotes.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as prettier from "prettier";
import { PROJECT_ROOT } from "../conformance/programRunner";

describe("formatting", () => {
  it("leaves every Pulumi.<stack>.yaml to the Pulumi CLI", async () => {
    const stackFiles = fs.readdirSync(PROJECT_ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
    assert.ok(stackFiles.length >= 2, `stack files found: ${stackFiles.join(", ")}`);
    const ignorePath = path.join(PROJECT_ROOT, ".prettierignore");
    for (const file of [...stackFiles, "Pulumi.newstack.yaml"]) {
      const info = await prettier.getFileInfo(path.join(PROJECT_ROOT, file), { ignorePath });
      assert.equal(info.ignored, true, `${file} is formatted by prettier`);
    }
    // The project file and other YAML stay formatted.
    for (const file of ["Pulumi.yaml", "examples/metrics/knative-otel.yaml"]) {
      const info = await prettier.getFileInfo(path.join(PROJECT_ROOT, file), { ignorePath });
      assert.equal(info.ignored, false, `${file} is left alone`);
    }
  });
});
