//! Files embedded in the binary: role definitions (`agents/`) and templates (`templates/`).
//! (Being written.)
