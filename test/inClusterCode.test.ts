// How the stack ships in-cluster code (components/inClusterCode.ts): keys, the content hash, the
// bundles and their ConfigMaps.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  codeBundle,
  codeConfigMap,
  codeHash,
  codeKey,
  codeVolume,
} from "../components/inClusterCode";

describe("in-cluster code: keys, hash and bundles", () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "canary-code-"));
    fs.mkdirSync(path.join(root, "app"));
    fs.mkdirSync(path.join(root, "app", "nested"));
    fs.mkdirSync(path.join(root, "lib"));
    fs.writeFileSync(path.join(root, "app", "main.js"), 'require("../lib/util");\n');
    fs.writeFileSync(path.join(root, "app", "notes.md"), "not code\n");
    fs.writeFileSync(path.join(root, "app", "nested", "deep.js"), "\n");
    fs.writeFileSync(path.join(root, "lib", "util.js"), "module.exports = 1;\n");
    fs.writeFileSync(path.join(root, "lib", "other.js"), "module.exports = 2;\n");
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it("keys a file by its path with '/' written '__', and refuses what would not map back", () => {
    assert.equal(codeKey("revision-tester/server.js"), "revision-tester__server.js");
    assert.equal(codeKey("shared/http.js"), "shared__http.js");
    for (const bad of ["my__lib/x.js", "a/b c.js", "../x.js", `a/${"x".repeat(260)}.js`]) {
      assert.throws(
        () => codeKey(bad),
        (error: Error) => error.message.includes(`functions/${bad} cannot be shipped`),
        bad,
      );
    }
  });

  it("hashes paths and contents, whatever the order, and tells apart any change", () => {
    const files = { "a/x.js": "1", "b/y.js": "2" };
    const hash = codeHash(files);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(codeHash({ "b/y.js": "2", "a/x.js": "1" }), hash, "insertion order");
    const changes: Record<string, string>[] = [
      { "a/x.js": "1", "b/y.js": "3" },
      { "a/x.js": "1", "b/z.js": "2" },
      { "a/x.js": "1" },
      { "a/x.js": "1", "b/y.js": "2", "c.js": "" },
    ];
    for (const changed of changes) {
      assert.notEqual(codeHash(changed), hash, JSON.stringify(changed));
    }
    // A byte moved from a content into the next path is another set of files.
    assert.notEqual(codeHash({ a: "bc", d: "" }), codeHash({ a: "b", cd: "" }));
  });

  it("bundles a folder's .js files (not its sub-folders) and single files, sorted by path", () => {
    const bundle = codeBundle(["app", "lib/util.js"], root);
    assert.deepEqual(bundle.items, [
      { key: "app__main.js", path: "app/main.js" },
      { key: "lib__util.js", path: "lib/util.js" },
    ]);
    assert.deepEqual(bundle.data, {
      "app__main.js": 'require("../lib/util");\n',
      "lib__util.js": "module.exports = 1;\n",
    });
    assert.equal(
      bundle.sha256,
      codeHash({
        "app/main.js": 'require("../lib/util");\n',
        "lib/util.js": "module.exports = 1;\n",
      }),
    );
    assert.throws(() => codeBundle(["nope"], root), /in-cluster code nope does not exist/);
  });

  it("makes an immutable ConfigMap and a volume whose items lay the files out as in functions/", () => {
    const bundle = codeBundle(["app", "lib"], root);
    const configMap = codeConfigMap("shop-code-0123456789", "shop", bundle);
    assert.equal(configMap.immutable, true);
    assert.deepEqual(configMap.metadata, {
      name: "shop-code-0123456789",
      namespace: "shop",
      labels: { "app.kubernetes.io/part-of": "canary-release" },
    });
    assert.deepEqual(Object.keys(configMap.data).sort(), [
      "app__main.js",
      "lib__other.js",
      "lib__util.js",
    ]);
    assert.deepEqual(codeVolume("code", "shop-code-0123456789", bundle), {
      name: "code",
      configMap: {
        name: "shop-code-0123456789",
        items: [
          { key: "app__main.js", path: "app/main.js" },
          { key: "lib__other.js", path: "lib/other.js" },
          { key: "lib__util.js", path: "lib/util.js" },
        ],
      },
    });
  });
});
