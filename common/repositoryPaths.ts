// Paths inside the application's repository (the build context, the Dockerfile). Pure; imports
// nothing of the project.

/**
 * Why `value` is not a path inside the checkout (relative, no `..` segment, no control
 * characters, which a shell or a log would take for something else), or undefined.
 */
export function repositoryPathProblem(value: string): string | undefined {
  if (value === "" || value.startsWith("/") || value.split("/").includes("..")) {
    return "must be a path inside the repository, relative and without `..`";
  }
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    return "must not contain control characters (a tab, a newline, an escape)";
  }
  if (value !== value.trim()) return "must not start or end with a space";
  // Tekton substitutes `$(...)` in the params it passes on: the build would see another path.
  if (value.includes("$(")) return "must not contain `$(`, which Tekton would substitute";
  return undefined;
}
