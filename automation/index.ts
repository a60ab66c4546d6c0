// The canary library: steer the stack's canary release from code through the Pulumi Automation
// API. The `canary` command (cli.ts, bin canary.js) is one user of it.
export {
  EXIT_CHANGED,
  EXIT_CODES_HELP,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_LOCKED,
  EXIT_NOT_DEPLOYED,
  EXIT_OK,
  EXIT_REFUSED,
  EXIT_ROLLED_BACK,
} from "./exitCodes";
export {
  CanaryRefusedError,
  NotDeployedError,
  StackBusyError,
  StackChangedError,
  StackLockedError,
  UpFailedError,
} from "./errors";
export {
  DEFAULT_LOCK_WAIT_MS,
  LOCK_STALE_MS,
  LOCK_WAIT_ENV,
  fileStackLock,
  type FileStackLockOptions,
  type LockHolder,
  type StackLock,
} from "./stackLock";
export {
  AutomationStackDriver,
  CONFIG_KEYS,
  DEFAULT_RETRY_POLICY,
  PROJECT_NAME,
  isConcurrentUpdateError,
  openPulumiStack,
  withConcurrentUpdateRetries,
  type OpenStackOptions,
  type RetryEvent,
  type RetryOptions,
  type RetryPolicy,
  type StackConfig,
  type StackDriver,
  type UpOptions,
  type UpSummary,
} from "./stackDriver";
export {
  applyConfigChange,
  proposalProblems,
  configDrift,
  deployedDifferences,
  deployedFromOutputs,
  describeChange,
  promoteCandidate,
  readCanaryConfig,
  readStatus,
  rollbackCanary,
  setCanaryPercent,
  startCandidate,
  type CanaryConfigView,
  type CanaryStatus,
  type ChangeOptions,
  type ChangeResult,
  type CommandOptions,
  type ConfigChange,
  type DeployedView,
} from "./operations";
export {
  DEFAULT_MAX_INCONCLUSIVE,
  planProblems,
  rolloutExitCode,
  runRollout,
  stepsProblems,
  type AnalysisRecord,
  type AnalysisRequest,
  type PlanStart,
  type RolloutEvent,
  type RolloutOptions,
  type RolloutReport,
  type RolloutStatus,
} from "./rollout";
export {
  ClusterReadError,
  openCluster,
  type ClusterReader,
  type ClusterTarget,
  type KnativeRevision,
  type KnativeRoute,
} from "./cluster";
export {
  clusterTargetOf,
  openStackCluster,
  readLiveStatus,
  readRevisions,
  readTagHeaderRouting,
  refuseWhileDrifted,
  type AppView,
  type LiveStatus,
  type OpenCluster,
  type TagHeaderRouting,
} from "./clusterStatus";
export {
  bar,
  formatRevisions,
  formatTraffic,
  resolveRevision,
  revisionRows,
  smokeTestSummary,
  trafficView,
  type RevisionRow,
  type TrafficRow,
  type TrafficView,
} from "./canaryView";
export { commitStackFile, isGitCheckout, runGit, stackFileDiff, type GitResult } from "./git";
export { findProjectDir, resolveProjectDir, stackFilePath } from "./project";
export { formatDuration, parseDuration, promqlDuration, realSleep, type Sleep } from "./time";
export {
  analyseCanary,
  preflightCanary,
  type CanaryAnalysisOptions,
  type PreflightOptions,
  type PreflightResult,
} from "./canaryAnalysis";
export { builtInMetricSet, loadMetricsFile, parseMetricSet, type MetricSet } from "./metricSet";
export type { AnalysisResult, MetricVerdict, MetricsScheme } from "./analysisTypes";
export { main, defaultCliDeps, type CliDeps } from "./cli";
