//! The agent manifest (`.legio/agent-manifest.json`). (Being written.)
