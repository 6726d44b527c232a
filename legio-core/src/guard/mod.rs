//! The PreToolUse guard: a pure decision from the parsed hook payload and a real reading of
//! shell commands. (Being written; see the guard issue.)
