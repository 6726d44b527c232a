//! Drawing one [`Snapshot`] with ratatui: a header line, the agents table, mail beside the
//! merge queue, events beside costs. At 80x24 every panel shows; a smaller terminal keeps the
//! header, the agents and a one-line summary; a tiny one says it is too small.
//!
//! Times are relative to the view's `now`, so ages move between refreshes without a reload.

use legio_core::domain::agent::AgentState;
use legio_core::domain::mail::Priority;
use legio_core::domain::merge::MergeStatus;
use legio_core::ops::dashboard::{AgentCost, Liveness, MAIL_OWNER, Panel, Snapshot};
use legio_core::time::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, Wrap};

/// What the view needs beside the data.
#[derive(Debug, Clone)]
pub struct View {
    /// The project's name.
    pub project: String,
    /// The refresh interval.
    pub interval_ms: u64,
    /// Now, for ages.
    pub now: Timestamp,
}

/// Below this size nothing but a notice is drawn.
const TINY: (u16, u16) = (30, 6);
/// Below this size only the agents and a summary line are drawn.
const SMALL: (u16, u16) = (60, 16);
/// Below this width the agents table drops its role, task and age columns.
const NARROW_AGENTS: u16 = 72;

const DIM: Style = Style::new().fg(Color::DarkGray);
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, snap: &Snapshot, view: &View) {
    let area = frame.area();
    if area.width < TINY.0 || area.height < TINY.1 {
        let text = format!("terminal too small ({}x{})", area.width, area.height);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    draw_header(frame, header, view);
    if area.width < SMALL.0 || area.height < SMALL.1 {
        let [agents, summary] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(body);
        draw_agents(frame, agents, snap, view);
        frame.render_widget(Paragraph::new(summary_line(snap)), summary);
        return;
    }
    let [agents, middle, bottom] = Layout::vertical([
        Constraint::Fill(4),
        Constraint::Fill(3),
        Constraint::Fill(3),
    ])
    .areas(body);
    draw_agents(frame, agents, snap, view);
    let [mail, merges] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    draw_mail(frame, mail, snap, view);
    draw_merges(frame, merges, snap);
    let [events, costs] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(bottom);
    draw_events(frame, events, snap);
    draw_costs(frame, costs, snap);
}

fn draw_header(frame: &mut Frame<'_>, area: Rect, view: &View) {
    let clock = view.now.to_string();
    let time = clock.get(11..19).unwrap_or(&clock);
    let line = Line::from(vec![
        Span::styled("legio dashboard", BOLD),
        Span::raw(format!(" · {}", view.project)),
        Span::styled(
            format!(" · {time} UTC · every {} ms · q quits", view.interval_ms),
            DIM,
        ),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// A compact age: `42s`, `3m`, `5h`, `2d`.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let s = now.millis_since(then).max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Tokens as `950`, `12.3k`, `4.5M`.
pub fn tokens(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        1000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

fn dollars(cost: Option<f64>) -> String {
    cost.map_or_else(|| "—".to_owned(), |c| format!("${c:.2}"))
}

/// A panel's block with `title`.
fn block(title: String) -> Block<'static> {
    Block::bordered().title(Span::styled(title, BOLD))
}

/// Draws the notice of a panel without data; returns true when it did.
fn unavailable<T>(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    file: &str,
    panel: &Panel<T>,
) -> bool {
    let text = match panel {
        Panel::Ready(_) => return false,
        Panel::Missing => Line::styled(format!("no {file} yet"), DIM),
        Panel::Failed(e) => Line::styled(e.clone(), Style::new().fg(Color::Red)),
    };
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(block(title.to_owned())),
        area,
    );
    true
}

fn state_mark(state: AgentState) -> Span<'static> {
    match state {
        AgentState::Booting => Span::styled("◐", Style::new().fg(Color::Yellow)),
        AgentState::Working => Span::styled("●", Style::new().fg(Color::Green)),
        AgentState::Idle => Span::styled("○", Style::new().fg(Color::Blue)),
        AgentState::Completed => Span::styled("✓", Style::new().fg(Color::Cyan)),
        AgentState::Zombie => Span::styled("☠", Style::new().fg(Color::Red)),
    }
}

fn liveness_mark(l: Liveness) -> Span<'static> {
    match l {
        Liveness::Running => Span::styled("running", Style::new().fg(Color::Green)),
        Liveness::Exited => Span::styled("exited", Style::new().fg(Color::Red)),
        Liveness::Gone => Span::styled("gone", DIM),
        Liveness::Unknown => Span::styled("?", DIM),
    }
}

fn draw_agents(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, view: &View) {
    if unavailable(frame, area, "Agents", "sessions.db", &snap.agents) {
        return;
    }
    let rows = snap.agents.ready().map_or(&[][..], Vec::as_slice);
    let active = rows.iter().filter(|r| r.session.state.is_active()).count();
    // Narrow terminals drop the role and task columns so that names stay readable.
    let wide = area.width >= NARROW_AGENTS;
    let table_rows: Vec<Row<'_>> = rows
        .iter()
        .map(|r| {
            let s = &r.session;
            let task = if s.bead_id.is_empty() {
                "—"
            } else {
                s.bead_id.as_str()
            };
            let mut cells = vec![
                Line::from(state_mark(s.state)),
                Line::raw(s.agent_name.as_str()),
            ];
            if wide {
                cells.push(Line::raw(s.capability.as_str()));
            }
            cells.push(Line::raw(s.state.as_str()));
            if wide {
                cells.push(Line::raw(task));
                cells.push(Line::raw(age(view.now, s.started_at)));
            }
            cells.push(Line::raw(age(view.now, s.last_activity)));
            cells.push(Line::from(liveness_mark(r.liveness)));
            Row::new(cells)
        })
        .collect();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec![
                "", "Name", "Role", "State", "Task", "Age", "Active", "Process",
            ],
            vec![
                Constraint::Length(1),
                Constraint::Fill(3),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Fill(2),
                Constraint::Length(4),
                Constraint::Length(6),
                Constraint::Length(7),
            ],
        )
    } else {
        (
            vec!["", "Name", "State", "Active", "Process"],
            vec![
                Constraint::Length(1),
                Constraint::Fill(1),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Length(7),
            ],
        )
    };
    let header = Row::new(header).style(DIM);
    let title = format!("Agents ({active} active / {})", rows.len());
    let table = Table::new(table_rows, widths)
        .header(header)
        .block(block(title));
    frame.render_widget(table, area);
}

fn draw_mail(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, view: &View) {
    if unavailable(frame, area, "Mail", "mail.db", &snap.mail) {
        return;
    }
    let Some(mail) = snap.mail.ready() else {
        return;
    };
    let lines: Vec<Line<'_>> = mail
        .recent
        .iter()
        .map(|m| {
            let mark = if m.read {
                Span::raw(" ")
            } else {
                Span::styled("●", Style::new().fg(Color::Yellow))
            };
            let subject_style = match m.priority {
                Priority::Urgent => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                Priority::High => Style::new().fg(Color::Yellow),
                Priority::Low => DIM,
                Priority::Normal => Style::new(),
            };
            Line::from(vec![
                mark,
                Span::raw(" "),
                Span::styled(format!("{:>3} ", age(view.now, m.created_at)), DIM),
                Span::raw(format!("{} → {}: ", m.from, m.to)),
                Span::styled(m.subject.clone(), subject_style),
            ])
        })
        .collect();
    let title = format!("Mail ({} unread for {MAIL_OWNER})", mail.unread);
    let body = if lines.is_empty() {
        Paragraph::new(Line::styled("no mail", DIM))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(block(title)), area);
}

fn merge_style(status: MergeStatus) -> Style {
    match status {
        MergeStatus::Pending => Style::new().fg(Color::Yellow),
        MergeStatus::Merging => Style::new().fg(Color::Blue),
        MergeStatus::Merged => Style::new().fg(Color::Green),
        MergeStatus::Conflict | MergeStatus::Failed => Style::new().fg(Color::Red),
    }
}

fn draw_merges(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot) {
    if unavailable(frame, area, "Merge queue", "merge-queue.db", &snap.merges) {
        return;
    }
    let entries = snap.merges.ready().map_or(&[][..], Vec::as_slice);
    let pending = entries
        .iter()
        .filter(|e| matches!(e.status, MergeStatus::Pending | MergeStatus::Merging))
        .count();
    let lines: Vec<Line<'_>> = entries
        .iter()
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{:<8} ", e.status.as_str()), merge_style(e.status)),
                Span::raw(e.branch_name.clone()),
            ])
        })
        .collect();
    let body = if lines.is_empty() {
        Paragraph::new(Line::styled("queue empty", DIM))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(
        body.block(block(format!("Merge queue ({pending} waiting)"))),
        area,
    );
}

fn draw_events(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot) {
    if unavailable(frame, area, "Events", "events.db", &snap.events) {
        return;
    }
    let events = snap.events.ready().map_or(&[][..], Vec::as_slice);
    let lines: Vec<Line<'_>> = events
        .iter()
        .map(|e| {
            let at = e.created_at.to_string();
            let time = at.get(11..19).unwrap_or(&at).to_owned();
            let style = match e.level {
                legio_core::domain::event::EventLevel::Error => Style::new().fg(Color::Red),
                legio_core::domain::event::EventLevel::Warn => Style::new().fg(Color::Yellow),
                _ => Style::new(),
            };
            Line::from(vec![
                Span::styled(format!("{time} "), DIM),
                Span::raw(format!("{:<12} ", e.agent_name)),
                Span::styled(format!("{:<12}", e.event_type), style),
                Span::styled(
                    e.tool_name
                        .as_deref()
                        .map(|t| format!(" {t}"))
                        .unwrap_or_default(),
                    DIM,
                ),
            ])
        })
        .collect();
    let body = if lines.is_empty() {
        Paragraph::new(Line::styled("no events", DIM))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(block("Events (newest first)".into())), area);
}

fn draw_costs(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot) {
    if unavailable(frame, area, "Costs", "metrics.db", &snap.costs) {
        return;
    }
    let costs = snap.costs.ready().map_or(&[][..], Vec::as_slice);
    let total: Option<f64> = costs.iter().filter_map(|c| c.cost_usd).reduce(|a, b| a + b);
    let rows: Vec<Row<'_>> = costs
        .iter()
        .map(|c: &AgentCost| {
            let used = c.usage.input_tokens
                + c.usage.output_tokens
                + c.usage.cache_read_tokens
                + c.usage.cache_creation_tokens;
            Row::new(vec![
                Line::raw(format!("{}{}", c.agent, if c.live { " *" } else { "" })),
                Line::raw(tokens(used)).right_aligned(),
                Line::raw(dollars(c.cost_usd)).right_aligned(),
            ])
        })
        .collect();
    let title = format!("Costs ({} total)", dollars(total));
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("nothing recorded", DIM)).block(block(title)),
            area,
        );
        return;
    }
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(7),
            Constraint::Length(9),
        ],
    )
    .header(
        Row::new(vec![
            Line::raw("Agent"),
            Line::raw("Tokens").right_aligned(),
            Line::raw("Cost").right_aligned(),
        ])
        .style(DIM),
    )
    .block(block(title));
    frame.render_widget(table, area);
}

/// One line for small terminals: unread mail, waiting merges, total cost.
fn summary_line(snap: &Snapshot) -> Line<'static> {
    let unread = snap
        .mail
        .ready()
        .map_or_else(|| "—".to_owned(), |m| m.unread.to_string());
    let waiting = snap.merges.ready().map_or_else(
        || "—".to_owned(),
        |m| {
            m.iter()
                .filter(|e| matches!(e.status, MergeStatus::Pending | MergeStatus::Merging))
                .count()
                .to_string()
        },
    );
    let total = snap
        .costs
        .ready()
        .and_then(|c| c.iter().filter_map(|c| c.cost_usd).reduce(|a, b| a + b));
    Line::styled(
        format!(
            "mail {unread} unread · merges {waiting} waiting · {}",
            dollars(total)
        ),
        DIM,
    )
}
