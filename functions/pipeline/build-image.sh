#!/bin/sh
# Tekton Task build-image: builds the fetched source with buildah and pushes
# <IMAGE_REPOSITORY>:<REVISION>, then writes the pushed manifest's digest (sha256:...) to
# DIGEST_FILE, the Task result the deploy step pins the revision to.
#
# Every input comes from the environment (the Task maps its params to env):
#   IMAGE_REPOSITORY    registry/repository, no tag, e.g. registry.example.com/team/hello
#   REVISION            full 40-character commit SHA: the image tag
#   SOURCE_DIR          the source workspace (the checked-out commit)
#   CONTEXT_DIR         build context, relative to SOURCE_DIR ("." for the repository root)
#   DOCKERFILE          Dockerfile, relative to CONTEXT_DIR
#   DOCKERCONFIG_BOUND  "true" when the dockerconfig workspace is bound
#   DOCKERCONFIG_PATH   that workspace: its config.json (or .dockerconfigjson) holds the
#                       registry credentials, given to buildah as REGISTRY_AUTH_FILE
#   DIGEST_FILE         where the digest goes (the image-digest result path)
#   STORAGE_DRIVER      buildah storage driver; vfs, which needs no mount privileges
#   TLS_VERIFY          "false" pushes without verifying TLS (a plain-HTTP registry such as
#                       kind's local one); default "true"
# BUILDAH_ISOLATION=chroot is set by the Task as well (RUN steps without an OCI runtime).
set -eu

fail() {
  echo "build-image: $*" >&2
  exit 1
}

IMAGE_REPOSITORY=${IMAGE_REPOSITORY:-}
REVISION=${REVISION:-}
SOURCE_DIR=${SOURCE_DIR:-}
CONTEXT_DIR=${CONTEXT_DIR:-.}
DOCKERFILE=${DOCKERFILE:-Dockerfile}
DOCKERCONFIG_BOUND=${DOCKERCONFIG_BOUND:-false}
DOCKERCONFIG_PATH=${DOCKERCONFIG_PATH:-}
DIGEST_FILE=${DIGEST_FILE:-}
STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
TLS_VERIFY=${TLS_VERIFY:-true}

case "$TLS_VERIFY" in
  true | false) ;;
  *) fail "TLS_VERIFY must be true or false, got '$TLS_VERIFY'" ;;
esac
[ -n "$SOURCE_DIR" ] || fail "SOURCE_DIR is empty: set it to the source workspace path"
[ -n "$DIGEST_FILE" ] || fail "DIGEST_FILE is empty: set it to the image-digest result path"
case "$IMAGE_REPOSITORY" in
  "" | *[!a-zA-Z0-9./_:-]*)
    fail "IMAGE_REPOSITORY must be registry/repository without tag or digest, got '$IMAGE_REPOSITORY'"
    ;;
esac
case "$REVISION" in
  "" | *[!0-9a-f]*)
    fail "REVISION must be a full 40-character lowercase hex commit SHA, got '$REVISION'"
    ;;
esac
[ "${#REVISION}" -eq 40 ] ||
  fail "REVISION must be a full 40-character lowercase hex commit SHA, got '$REVISION'"

# Paths come from stack config; still, they must stay inside the checked-out repository.
inside_repository() {
  case "$2" in
    "" | /*) fail "$1 must be a relative path inside the repository, got '$2'" ;;
  esac
  case "/$2/" in
    */../*) fail "$1 must not leave the repository ('..'), got '$2'" ;;
  esac
}
inside_repository CONTEXT_DIR "$CONTEXT_DIR"
inside_repository DOCKERFILE "$DOCKERFILE"

context="$SOURCE_DIR/$CONTEXT_DIR"
dockerfile="$context/$DOCKERFILE"
[ -d "$context" ] || fail "build context '$CONTEXT_DIR' is not a directory of the repository at $REVISION"
[ -f "$dockerfile" ] ||
  fail "Dockerfile '$DOCKERFILE' not found in build context '$CONTEXT_DIR' at $REVISION"

# The '..' check above is textual: a pushed symlink (the context dir, a directory on its way, or
# the Dockerfile itself) could still point buildah at files outside the checkout, such as the
# mounted registry credentials. So the real paths, every link resolved, must lie inside the
# checkout's own real path (the workspace path may itself be a link, as volume mounts can be).
real_path() {
  readlink -f "$2" || fail "cannot resolve the real path of $1 '$3'"
}
source_real=$(real_path SOURCE_DIR "$SOURCE_DIR" "$SOURCE_DIR")
inside_checkout() {
  case "$3" in
    "$source_real" | "$source_real"/*) ;;
    *) fail "$1 '$2' resolves to $3, outside the checkout $source_real (a symlink leaves it): refusing to build" ;;
  esac
}
inside_checkout CONTEXT_DIR "$CONTEXT_DIR" "$(real_path CONTEXT_DIR "$context" "$CONTEXT_DIR")"
inside_checkout DOCKERFILE "$DOCKERFILE" "$(real_path DOCKERFILE "$dockerfile" "$DOCKERFILE")"

if [ "$DOCKERCONFIG_BOUND" = "true" ]; then
  if [ -f "$DOCKERCONFIG_PATH/config.json" ]; then
    REGISTRY_AUTH_FILE="$DOCKERCONFIG_PATH/config.json"
  elif [ -f "$DOCKERCONFIG_PATH/.dockerconfigjson" ]; then
    REGISTRY_AUTH_FILE="$DOCKERCONFIG_PATH/.dockerconfigjson"
  else
    fail "the dockerconfig workspace is bound but holds neither config.json nor .dockerconfigjson"
  fi
  export REGISTRY_AUTH_FILE
  echo "build-image: registry credentials from $REGISTRY_AUTH_FILE"
else
  echo "build-image: no dockerconfig workspace: pushing anonymously"
fi

image="$IMAGE_REPOSITORY:$REVISION"
echo "build-image: building $image from $CONTEXT_DIR/$DOCKERFILE"
buildah --storage-driver="$STORAGE_DRIVER" build --format=oci --file="$dockerfile" \
  --tag="$image" "$context"
pushed=$(mktemp)
trap 'rm -f "$pushed"' EXIT
[ "$TLS_VERIFY" = "true" ] || echo "build-image: pushing without TLS verification (insecureRegistry)"
buildah --storage-driver="$STORAGE_DRIVER" push --tls-verify="$TLS_VERIFY" --digestfile="$pushed" \
  "$image" "docker://$image"

digest=$(cat "$pushed")
case "$digest" in
  sha256:*) ;;
  *) fail "buildah wrote '$digest' as the digest, expected sha256:<64 hex digits>" ;;
esac
hex=${digest#sha256:}
case "$hex" in
  *[!0-9a-f]*) fail "buildah wrote '$digest' as the digest, expected sha256:<64 hex digits>" ;;
esac
[ "${#hex}" -eq 64 ] || fail "buildah wrote '$digest' as the digest, expected sha256:<64 hex digits>"
# The result is exactly the digest: no trailing newline for the deploy step to trip over.
printf '%s' "$digest" >"$DIGEST_FILE"
echo "build-image: pushed $image as $IMAGE_REPOSITORY@$digest"
