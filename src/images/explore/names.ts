/** The explorers of `crit x DIR WHAT`, apart from their code so a CLI can list them without loading it. */
export const EXPLORERS = ["ps", "fds", "mems", "rss"] as const;
export type ExplorerName = (typeof EXPLORERS)[number];
