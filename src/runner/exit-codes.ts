/** A worker's exit codes: how the runner learns what became of the unit it ran. */
export const EXIT = { done: 0, failed: 1, badInput: 2, locked: 3, depsMissing: 4, alreadyDone: 5, cudaOom: 6 } as const;
