//! The Claude Code hook protocol: payloads in, decisions and context out. (Being written.)
