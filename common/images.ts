// Image references as this stack accepts them from its users, in one place. Pure; imports
// nothing of the project. The grammar is the distribution reference's
// (github.com/distribution/reference), narrowed where the stack needs more.

/** A path component: lower case, separated by `.`, `_`, `__` or dashes. */
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const PATH = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
/** `host[:port]`: dot-separated labels, each starting and ending with a letter or digit. */
const HOST_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const REGISTRY_HOST = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*(?::[0-9]+)?$`);
/** The distribution reference's limit on a whole name. */
const MAX_NAME_LENGTH = 255;

/**
 * `[registry[:port]/]path`, with the first part a registry only where it looks like one: a dot,
 * a port or `localhost`. Anything else is the first path component, lower case. Docker's
 * parser would also take an upper-case first part as a registry (`UPPER/x` as registry
 * `UPPER`), a host no one means; this stack refuses it rather than push there.
 */
function isRepository(value: string): boolean {
  if (value.length > MAX_NAME_LENGTH) return false;
  const slash = value.indexOf("/");
  const first = slash === -1 ? "" : value.slice(0, slash);
  const isHost = first.includes(".") || first.includes(":") || first === "localhost";
  return isHost ? REGISTRY_HOST.test(first) && PATH.test(value.slice(slash + 1)) : PATH.test(value);
}
/** The last path component: its name, an optional `:tag`, an optional `@sha256:digest`. */
const LAST_COMPONENT = /^([^:@]*)(?::([\w][\w.-]{0,127}))?(@sha256:[0-9a-f]{64})?$/;

/**
 * Why `value` is not an image repository the pipeline can push to (`[registry[:port]/]path`,
 * without tag or digest: the pipeline pins each build by its digest), or undefined.
 */
export function imageRepositoryProblem(value: string): string | undefined {
  return isRepository(value)
    ? undefined
    : "must be an image repository without tag or digest, e.g. `registry.example.com/team/hello` " +
        "or `localhost:5001/hello`";
}

/**
 * Why `value` is not a pinned image the cluster may run (`<repository>:<tag>`,
 * `<repository>@sha256:<digest>` or both; never a floating `latest`), or undefined.
 */
export function pinnedImageProblem(value: string): string | undefined {
  const lastSlash = value.lastIndexOf("/");
  const match = LAST_COMPONENT.exec(value.slice(lastSlash + 1));
  const [, name, tag, digest] = match ?? [];
  const repository = `${value.slice(0, lastSlash + 1)}${name ?? ""}`;
  if (match === null || !isRepository(repository) || (tag === undefined && digest === undefined)) {
    return (
      "must be an image pinned by a version tag or a digest, e.g. `node:24.11.1-alpine` or " +
      "`<image>@sha256:<digest>`"
    );
  }
  if (tag === "latest" && digest === undefined) {
    return "must not float on `latest`: pin a version tag or a digest";
  }
  return undefined;
}
