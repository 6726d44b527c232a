//! legio-merge: everything that touches git. Worktrees and branches for agents (legio-core's
//! `Worktrees` port, with git2), and the merge queue runner: a lock per target branch, refusal
//! on a dirty tree, atomic queue claims, crash recovery, dry-run prediction from an in-memory
//! merge, and the resolution tiers (clean, mechanical keep-both, AI, reimagine).
//!
//! Architecture invariant: no resolution ever drops one side of a conflict silently. git2 runs
//! no git hooks and no LFS filters; merges made here do not trigger them.
