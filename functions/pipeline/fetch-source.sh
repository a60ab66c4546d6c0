#!/bin/sh
# Tekton Task fetch-source: puts exactly one commit of a repository into the source workspace.
#
# Every input comes from the environment (the Task maps its params to env), so a value from a
# webhook is never spliced into this text:
#   REPO_URL    clone URL of the repository (https in the cluster: GIT_ALLOW_PROTOCOL=https)
#   REVISION    the full 40-character commit SHA to check out
#   SOURCE_DIR  the directory to fill (the workspace path); whatever it held is removed first
#
# Fetching one commit by SHA (git init + fetch --depth 1 <sha>) needs the server to allow wants
# of unadvertised objects: GitHub does; a plain git server needs
# uploadpack.allowReachableSHA1InWant (the tests set it on their local repository).
#
# POSIX sh on purpose: the git image (alpine/git) has busybox sh, not bash.
set -eu

fail() {
  echo "fetch-source: $*" >&2
  exit 1
}

REPO_URL=${REPO_URL:-}
REVISION=${REVISION:-}
SOURCE_DIR=${SOURCE_DIR:-}

[ -n "$REPO_URL" ] || fail "REPO_URL is empty: set it to the repository's clone URL"
[ -n "$SOURCE_DIR" ] || fail "SOURCE_DIR is empty: set it to the source workspace path"
case "$REVISION" in
  "" | *[!0-9a-f]*)
    fail "REVISION must be a full 40-character lowercase hex commit SHA, got '$REVISION'"
    ;;
esac
[ "${#REVISION}" -eq 40 ] ||
  fail "REVISION must be a full 40-character lowercase hex commit SHA, got '$REVISION' (${#REVISION} characters)"
# A value starting with '-' would be read by git as an option.
case "$REPO_URL" in
  -*) fail "REPO_URL must be a URL, got a value starting with '-'" ;;
esac

# Credentials may sit in the URL (https://user:token@host/...): never print them.
redact() {
  sed -e 's#\([a-zA-Z][a-zA-Z0-9+.-]*://\)[^/@[:space:]]*@#\1***@#g'
}
SAFE_URL=$(printf '%s\n' "$REPO_URL" | redact)

# Never wait for a password prompt in a pod.
GIT_TERMINAL_PROMPT=0
export GIT_TERMINAL_PROMPT

mkdir -p "$SOURCE_DIR"
# A reused volume may still hold an older checkout: start from an empty directory. The three
# globs cover ordinary names, dot files and names starting with '..'.
rm -rf "$SOURCE_DIR"/* "$SOURCE_DIR"/.[!.]* "$SOURCE_DIR"/..?*

# The workspace may belong to another user than the step's: tell git it is trusted.
in_source() {
  git -c safe.directory="$SOURCE_DIR" -C "$SOURCE_DIR" "$@"
}

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

git init -q "$SOURCE_DIR"
in_source remote add origin "$REPO_URL"
if ! in_source fetch -q --depth 1 --no-tags origin "$REVISION" 2>"$errors"; then
  redact <"$errors" >&2
  fail "cannot fetch commit $REVISION from $SAFE_URL: the commit does not exist there, the" \
    "repository is unreachable, or the server refuses fetching a commit by SHA"
fi
in_source -c advice.detachedHead=false checkout -q FETCH_HEAD

head=$(in_source rev-parse HEAD)
[ "$head" = "$REVISION" ] || fail "checked out $head, expected $REVISION"
echo "fetch-source: $SAFE_URL at $REVISION in $SOURCE_DIR"
