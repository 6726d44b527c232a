//! The per-agent instructions file rendered from `templates/overlay.md.tmpl`. (Being written.)
