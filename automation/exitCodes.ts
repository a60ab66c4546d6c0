// Exit codes of the `canary` command, for scripts and CI jobs that branch on the outcome.

/** Done: the stack is where the command was asked to put it. */
export const EXIT_OK = 0;
/** Something failed (a `pulumi up`, Pulumi, git): read the message. */
export const EXIT_ERROR = 1;
/** Bad arguments or input refused (no candidate, a bad plan): nothing was changed. */
export const EXIT_REFUSED = 2;
/** A rollout's analysis failed or stayed inconclusive: the candidate was rolled back to 0 %. */
export const EXIT_ROLLED_BACK = 3;
/** Interrupted (Ctrl-C): stopped between two actions; the output says where. */
export const EXIT_INTERRUPTED = 130;

/** The exit codes as `--help` shows them. */
export const EXIT_CODES_HELP = `Exit codes:
  ${EXIT_OK}    done
  ${EXIT_ERROR}    failed: a pulumi up, Pulumi or git error (the message says which);
       the stack config was set back to what is deployed
  ${EXIT_REFUSED}    refused: bad arguments or input (e.g. no candidate); nothing was changed
  ${EXIT_ROLLED_BACK}    rolled back: the analysis failed or stayed inconclusive, canaryPercent is 0
  ${EXIT_INTERRUPTED}  interrupted by Ctrl-C between two actions (the output says where)`;
