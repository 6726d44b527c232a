//! Shared support for legio-cli's integration tests (`mod support;`): a scripted Messages API
//! server ([`scripted_api`]), the pinned real Claude Code binary ([`install`]) run hermetically
//! against it ([`claude`]), headless over stream-json ([`headless`]) or interactive in tmux
//! ([`tmux`]).
//!
//! ```ignore
//! let Some(bin) = claude_bin() else { return };
//! let server = ScriptedApi::start([Turn::tool(ToolCall::bash("echo hi")), Turn::text("done")]);
//! let mut sandbox = Sandbox::new(bin);
//! sandbox.record_hook("Stop");
//! let result = sandbox.print(&server, "go").result();
//! assert_eq!(server.turn_requests()[1].tool_results()[0].content, "hi");
//! ```
//!
//! # Facts about the real client (claude 2.1.332) that legio relies on
//!
//! A fact followed by a test name in brackets is asserted by that test in `claude_client.rs`
//! (or `claude_e2e.rs`, where it says so), so a Claude Code release that changes it fails there
//! first; the others were seen by hand while writing these tests.
//!
//! ## Install and launch
//! - `npm install @anthropic-ai/claude-code@2.1.332` gives `node_modules/.bin/claude`, a native
//!   ELF (about 400 MB; its postinstall hard-links the platform package's binary). Node is only
//!   needed to install (node 20 only warns about `engines`). `claude --version` prints
//!   `2.1.332 (Claude Code)` and writes nothing to `HOME`.
//! - With the no-telemetry variables it contacts only `ANTHROPIC_BASE_URL`, and there only
//!   `POST /v1/messages?beta=true` with `"stream": true`, one call per model turn: no token
//!   counting, titles or probes, in `-p`, stream-json and interactive modes alike
//!   [claude_print_runs_a_bash_tool..., claude_headless..., claude_interactive_in_tmux...]. Headers: `x-api-key`, `x-claude-code-session-id: <session
//!   id>`, `user-agent: claude-cli/2.1.332 (external, sdk-cli)` (`-p`) or `(external, cli)`
//!   (interactive) [claude_interactive_in_tmux...]. Request bodies have a `Content-Length`.
//! - An unreachable API is retried 10 times with growing delays (stream-json shows
//!   `{"type":"system","subtype":"api_retry","attempt":N,"max_retries":10,...}`): minutes of
//!   silence, not a quick failure.
//! - Requests carry `role: "system"` messages inside `messages` (reminders, hook output).
//!
//! ## First start in a fresh HOME (interactive only; `-p` never asks)
//! Without `hasCompletedOnboarding` it onboards and checks connectivity to api.anthropic.com,
//! which fails offline ("Unable to connect to Anthropic services", exit 1). Then up to three
//! dialogs, each with a `❯` cursor on the safe answer and an `Enter to confirm · Esc to cancel`
//! footer, so a prompt typed blindly followed by Enter *exits* claude:
//! - trust: "Quick safety check: Is this a project you created or one you trust?" `❯ No, exit` /
//!   `Yes, I trust this folder`; Down, Enter trusts and records
//!   `projects.<path>.hasTrustDialogAccepted: true` in `~/.claude.json`
//!   [claude_interactive_in_an_untrusted_folder...]. Trusting a repository's root also covers a
//!   worktree at `<root>/.legio/worktrees/<agent>` [claude_trust_of_the_repository_root...].
//!   `CLAUDE_CODE_SANDBOXED=1` skips the dialog (undocumented);
//! - API key: "Detected a custom API key in your environment" `Yes` / `❯ No (recommended)`;
//! - bypass mode: "WARNING: Claude Code running in Bypass Permissions mode" `❯ No, exit` /
//!   `Yes, I accept`.
//!
//! Pre-answered by [`claude::ClaudeHome`]: `~/.claude.json` `hasCompletedOnboarding: true`,
//! `customApiKeyResponses.approved: [<last 20 chars of the key>]`,
//! `projects.<abs path>.hasTrustDialogAccepted: true`, and `~/.claude/settings.json` `skipDangerousModePermissionPrompt: true`.
//!
//! ## Interactive in tmux [claude_interactive_in_tmux...]
//! - Ready for a first prompt: a line that is exactly `❯` + U+00A0 (no-break space) between two
//!   `─` rules, with `⏵⏵ bypass permissions on` below in bypass mode, and no dialog footer
//!   ([`tmux::claude_prompt_ready`]). The empty prompt is also drawn while a turn runs: it means
//!   "input box empty", not "idle"; the Stop hook marks a turn's end.
//! - `send-keys -l TEXT` then `send-keys Enter` straight after submits. `/exit` + Enter ends the
//!   session (SessionEnd `reason: "prompt_input_exit"`).
//! - SessionStart fires at startup; no model call happens before the first prompt.
//! - Time to the ready prompt: about 0.45 s on an idle machine; 10 to 22 s seen at load average
//!   15 to 30 (parallel builds). Wait generously, and fail loudly when it does not come.
//!
//! ## `-p` and stream-json
//! - `claude -p PROMPT --output-format json`: one result object; `num_turns` counts model calls
//!   (2 for a tool call then an answer); `usage` sums them; `permission_denials[]` lists
//!   `{tool_name, tool_use_id, tool_input}`. About 0.5 s for two model calls on an idle machine.
//! - `-p --input-format stream-json --output-format stream-json --verbose`
//!   [claude_headless_stream_json...]: prints `system/hook_started`, `system/hook_response`,
//!   `system/init` (`session_id`, `cwd`, `tools`), then per prompt `assistant` / `user` lines and
//!   one `result`. It keeps the session open for more
//!   `{"type":"user","message":{"role":"user","content":TEXT}}` lines; stdin EOF ends it (exit 0,
//!   SessionEnd `reason: "other"`). Its `assistant` lines carry `message_start` usage
//!   (`output_tokens` not final): take costs from `result` or the transcript.
//!
//! ## Hook payloads [claude_hooks_receive_documented_payloads...]
//! - All: `session_id`, `transcript_path` (the transcript below), `cwd` (canonical),
//!   `hook_event_name`. `prompt_id` (one per prompt) on UserPromptSubmit, the tool events and
//!   Stop; `permission_mode` (`bypassPermissions`) on UserPromptSubmit, the tool events and Stop.
//! - SessionStart: `source: "startup"` (no `model` field seen). UserPromptSubmit: `prompt`.
//! - PreToolUse: `tool_name`, `tool_input`, `tool_use_id` (the API's `tool_use` id).
//! - PostToolUse, only when the tool succeeded: `tool_response` (Bash: `stdout`, `stderr`,
//!   `interrupted`, ...), `duration_ms`.
//! - PostToolUseFailure, instead of PostToolUse when it failed: `error` (Bash: `"Exit code N\n"` +
//!   stderr), `is_interrupt`, `duration_ms`. A legio that counts tool calls from PostToolUse only
//!   misses every failing one.
//! - Stop: once per prompt (not per model call): `stop_hook_active: false`,
//!   `last_assistant_message`, `background_tasks`, `session_crons`.
//! - SessionEnd: `reason` `"other"` (`-p`, stream-json EOF) or `"prompt_input_exit"` (`/exit`).
//!
//! ## What hook output reaches the model
//! - PreToolUse `{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny",
//!   "permissionDecisionReason":R}}`, exit 0: the tool does not run; the next request has a
//!   `tool_result` with `is_error: true` and content `PreToolUse:Bash hook error: R`; the result
//!   object lists the call in `permission_denials` [claude_pre_tool_use_deny_json...].
//! - PreToolUse exit 2: the tool does not run; the error `tool_result` contains the hook's stderr
//!   [claude_pre_tool_use_exit_2...].
//! - PostToolUse `hookSpecificOutput.additionalContext` C: exactly once, as its own message
//!   `{"role":"system","content":[{"type":"text","text":"PostToolUse:Bash hook additional
//!   context: C"}]}` right after the user message holding the `tool_result`. Plain stdout reaches
//!   nothing [claude_post_tool_use_additional_context...].
//! - UserPromptSubmit plain stdout S: exactly once, as the line `UserPromptSubmit hook success: S`
//!   inside the `system` message that follows the prompt [claude_user_prompt_submit_stdout...].
//! - Stop `{"decision":"block","reason":R}`: the client calls the model again at once, and that
//!   request shows R **twice**: in a `user` message (a system reminder ending `Stop hook
//!   feedback:\nR`) and in a `system` message `Stop hook blocking error from command: "<hook
//!   command>": R`; later requests keep both [claude_e2e: the late mail].
//!
//! ## Transcript [claude_transcript_is_where_spec_4_says...]
//! - `$HOME/.claude/projects/<cwd with every non-alphanumeric char as '-'>/<session_id>.jsonl`,
//!   the same path as the hooks' `transcript_path`; written by `-p` too.
//! - `assistant` entries: one line per content block, each repeating the whole response's
//!   `message.usage` (input, output, cache read, cache creation and its 5m / 1h split, exactly as
//!   the server reported, final `output_tokens` included) and `requestId` = the `request-id`
//!   response header: count usage once per (`message.id`, `requestId`).
//! - Interactive (tmux): the last response of a turn can reach the transcript *after* the Stop
//!   hook has run; read a transcript for costs once it holds the message you expect [claude_e2e].
//! - The prompt is a `type: "user"` entry. Other types seen: `api-request`, `api-request-blob`,
//!   `api-request-shape`, `atis-latch`, `attachment`, `cost-state`, `last-prompt`,
//!   `queue-operation`, `tools-used`.

// Each test binary uses a part of the support code.
#![allow(dead_code)]

pub mod claude;
pub mod headless;
pub mod install;
pub mod project;
pub mod scripted_api;
pub mod tmux;
