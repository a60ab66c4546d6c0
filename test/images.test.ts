// Image references (issue 15, fault 13): the first part of a name is a registry only when it
// has a dot, a port or is `localhost`; otherwise it is a path component, which must be lower
// case. (Docker would take `UPPER/x` as registry `UPPER`, a host no one means: refused.)
import { strict as assert } from "assert";
import { imageRepositoryProblem, pinnedImageProblem } from "../common/images";

describe("image references (common/images.ts)", () => {
  it("accepts repositories with and without a registry", () => {
    for (const repository of [
      "hello",
      "team/hello",
      "registry.example.com/team/hello",
      "Registry.Example.com/team/hello",
      "localhost/hello",
      "localhost:5001/hello",
      "kind-registry:5000/hello",
      "docker.io/library/node",
    ]) {
      assert.equal(imageRepositoryProblem(repository), undefined, repository);
    }
  });

  it("refuses names Docker would not parse, or would read as another registry", () => {
    for (const repository of [
      "UPPER/x",
      "Team/hello",
      "registry.example.com/Hello",
      "-registry.io/team/hello",
      "registry..example.com/hello",
      "registry.example.com/",
      "/hello",
      "hello:1.0",
      `${"a".repeat(256)}`,
    ]) {
      assert.match(
        imageRepositoryProblem(repository) ?? "accepted",
        /must be an image/,
        repository,
      );
    }
  });

  it("pinned images: the same name rule, then a tag or a digest", () => {
    assert.equal(pinnedImageProblem("node:24.11.1-alpine"), undefined);
    assert.equal(pinnedImageProblem("localhost:5001/hello:1.0"), undefined);
    assert.equal(pinnedImageProblem(`quay.io/buildah/stable@sha256:${"a".repeat(64)}`), undefined);
    assert.match(pinnedImageProblem("Library/node:24.11.1") ?? "accepted", /pinned/);
    assert.match(pinnedImageProblem("UPPER/x:1") ?? "accepted", /pinned/);
    assert.match(pinnedImageProblem("node:latest") ?? "accepted", /latest/);
  });
});
