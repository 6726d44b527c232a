//! Configuration: `.legio/config.yaml` with `config.local.yaml` overlaid on it.
//! (Being written; see the foundation issue.)
