// Exit codes of the `canary` command, for scripts and CI jobs that branch on the outcome.

/** Done: the stack is where the command was asked to put it. */
export const EXIT_OK = 0;
/** Something failed (a `pulumi up`, Pulumi, git): read the message. */
export const EXIT_ERROR = 1;
/** Bad arguments or input refused (no candidate, a bad plan): nothing was changed. */
export const EXIT_REFUSED = 2;
/** A rollout's analysis failed or stayed inconclusive: the candidate was rolled back to 0 %. */
export const EXIT_ROLLED_BACK = 3;
/**
 * Another `canary` command held the stack's lock for all of `--lock-wait`: nothing was changed.
 * Run again when it is done (the message names the holder).
 */
export const EXIT_LOCKED = 4;
/**
 * The update succeeded but the stack outputs do not show what this command set (another update
 * changed the stack, or the program ignored the config): the change may not be live.
 */
export const EXIT_NOT_DEPLOYED = 5;
/**
 * A rollout stopped because another command changed the stack while it waited between steps
 * (another candidate, a rollback, a step by hand): it writes nothing over another's change.
 */
export const EXIT_CHANGED = 6;
/** Interrupted (Ctrl-C): stopped between two actions; the output says where. */
export const EXIT_INTERRUPTED = 130;

/** The exit codes as `--help` shows them. */
export const EXIT_CODES_HELP = `Exit codes:
  ${EXIT_OK}    done
  ${EXIT_ERROR}    failed: a pulumi up, Pulumi or git error (the message says which);
       the stack config was set back to what is deployed
  ${EXIT_REFUSED}    refused: bad arguments or input (e.g. no candidate); nothing was changed
  ${EXIT_ROLLED_BACK}    rolled back: the analysis failed or stayed inconclusive, canaryPercent is 0
  ${EXIT_LOCKED}    locked: another canary command held the stack for all of --lock-wait;
       nothing was changed (the message names the holder)
  ${EXIT_NOT_DEPLOYED}    not deployed: the update ran, but the stack outputs differ from what this
       command set (the message shows both); check \`canary status\`
  ${EXIT_CHANGED}    changed: another command changed the stack during a rollout; the rollout
       stopped and wrote nothing over it (the message shows what changed)
  ${EXIT_INTERRUPTED}  interrupted by Ctrl-C between two actions (the output says where)`;
