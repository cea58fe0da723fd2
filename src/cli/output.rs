//! Printing the daemon's answers for people: objects as `key: value` lines, lists of objects
//! as aligned tables; or the JSON itself with `--json`. Text meant for people goes through
//! [`escape`] first, so a name or a message cannot move the cursor, clear the screen or set
//! the terminal's title; the JSON is printed exactly as the daemon sent it.
//!
//! For people, this module owns two more things ([`Style`]):
//! - Times: every field the protocol lists as a time ([`TIME_FIELDS`]) is shown in the
//!   configured zone (`[daemon] timezone`) with its offset, `2026-12-06 22:15 +08:00`
//!   ([`local_time`]); `--json` keeps the daemon's RFC 3339.
//! - Width: lines fit the terminal ([`terminal_columns`]: `COLUMNS`, else the terminal's width
//!   when standard output is one, else 80), measured in display columns (`unicode-width`: CJK
//!   and emoji take two). A table too wide has its widest columns cut with `…`, as little as
//!   needed: headings wider than their values first (labels before data); if that is not
//!   enough, free text ([`FREE_TEXT`]) and device paths ([`PATHS`], in their middle) too
//!   (other values are never cut); one that still does not fit is printed as a list, one
//!   `key: value` block per row. `key: value` lines wrap their value under itself
//!   (`textwrap`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::os::fd::AsFd;

use chrono::DateTime;
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use super::exit::Class;
use super::Failure;
pub use crate::protocol::TIME_FIELDS;

/// How answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// The daemon's JSON, one line, as it came.
    pub json: bool,
    /// The zone times are shown in.
    pub zone: Tz,
    /// Display columns a line may take.
    pub columns: usize,
}

/// Columns when standard output is no terminal and `COLUMNS` is not set.
pub const DEFAULT_COLUMNS: usize = 80;

/// The narrowest output laid out (a smaller `COLUMNS` counts as this).
const MIN_COLUMNS: usize = 20;

/// Table columns holding free text, which are cut to make a table fit (identifiers, numbers,
/// states and times never are).
pub const FREE_TEXT: &[&str] = &[
    "text", "name", "reason", "error", "problem", "note", "operator", "model", "header",
];

/// Table columns holding device paths (`/dev/gsm/quectel-ec25-…-if02-port0`), which are cut
/// in the middle, keeping the start and the distinctive end.
pub const PATHS: &[&str] = &["modem", "device"];

/// What a device path column keeps at least.
const MIN_PATH: usize = 16;

/// What a column's heading keeps at least when it is cut (its values never are).
const MIN_HEADING: usize = 4;

/// What a free-text column keeps at least before the table becomes a list.
const MIN_FREE_TEXT: usize = 6;

impl Style {
    /// For people: times in `zone`, lines as wide as [`terminal_columns`].
    pub fn new(json: bool, zone: Tz) -> Style {
        Style {
            json,
            zone,
            columns: terminal_columns(),
        }
    }
}

/// The width output may take: [`columns_of`] standard output.
pub fn terminal_columns() -> usize {
    columns_of(&std::io::stdout())
}

/// The width of what is printed on `stream`: `COLUMNS` when it is a number, else the
/// terminal's width when `stream` is a terminal that knows it, else [`DEFAULT_COLUMNS`] (at
/// least 20).
pub fn columns_of<S: AsFd + IsTerminal>(stream: &S) -> usize {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0);
    let from_tty = || {
        if !stream.is_terminal() {
            return None;
        }
        terminal_size::terminal_size_of(stream).map(|(w, _)| usize::from(w.0))
    };
    from_env
        .or_else(from_tty)
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_COLUMNS)
        .max(MIN_COLUMNS)
}

/// Redraws the one status line on standard error, a terminal (a progress bar): cut to the
/// terminal's width, since `\r` returns only to the start of the last row of a line that
/// wrapped, and every redraw would leave a row behind.
pub fn redraw_status(line: &str) {
    let columns = columns_of(&std::io::stderr());
    // The last column stays free: some terminals wrap when it is written.
    eprint!("\r{}\x1b[K", truncate(line, columns - 1));
    let _ = std::io::stderr().flush();
}

/// An RFC 3339 time as people read it in `zone`, to the minute, with the zone's offset:
/// `2026-12-06 22:15 +08:00`. `None` when it is no RFC 3339 time.
pub fn local_time(rfc3339: &str, zone: Tz) -> Option<String> {
    let at = DateTime::parse_from_rfc3339(rfc3339).ok()?;
    Some(
        at.with_timezone(&zone)
            .format("%Y-%m-%d %H:%M %:z")
            .to_string(),
    )
}

/// Prints a typed answer (a `protocol` type) as JSON or for reading.
pub fn print_result<T: Serialize>(result: &T, style: &Style) -> Result<(), Failure> {
    let value = serde_json::to_value(result).map_err(|e| {
        Failure::of(
            Class::Unavailable,
            format!("cannot print the daemon's answer: {e}"),
        )
    })?;
    print_value(&value, style);
    Ok(())
}

/// Prints `v` as JSON or for reading.
pub fn print_value(v: &Value, style: &Style) {
    if style.json {
        println!("{v}");
    } else {
        print!("{}", render(v, style));
    }
}

/// `s` made harmless for a terminal: ESC as `\e`, other control characters as `\xNN` (C0,
/// DEL, C1), bidirectional controls as `\u{NNNN}`; everything else (CJK, emoji) unchanged.
pub fn escape(s: &str) -> Cow<'_, str> {
    let bidi = |c: char| matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(|c| c.is_control() || bidi(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c if bidi(c) => {
                let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`escape`] line by line: a message of several lines keeps its line breaks.
pub fn escape_lines(s: &str) -> String {
    s.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

/// The human form of an answer.
pub fn render(v: &Value, style: &Style) -> String {
    let mut out = String::new();
    match v {
        Value::Null => {}
        Value::Object(map) => {
            let mut pairs = Vec::new();
            let mut tables = Vec::new();
            for (k, val) in map {
                match val {
                    Value::Array(items)
                        if !items.is_empty() && items.iter().all(Value::is_object) =>
                    {
                        tables.push((k, items))
                    }
                    _ => pairs.push((escape(k).into_owned(), cell(k, val, style))),
                }
            }
            // Aligned on every key of the object, those of its tables too.
            let key_width = map.keys().map(|k| width(k)).max().unwrap_or(0);
            out.push_str(&key_values(&pairs, key_width, style));
            for (k, items) in tables {
                out.push_str(&format!("\n{} ({}):\n", escape(k), items.len()));
                out.push_str(&table(items, style));
            }
        }
        Value::Array(items) if items.iter().all(Value::is_object) => {
            out.push_str(&table(items, style))
        }
        other => out.push_str(&format!("{}\n", scalar(other, style))),
    }
    out
}

/// A value as shown under `key`: a time in the style's zone, anything else as [`scalar`].
fn cell(key: &str, v: &Value, style: &Style) -> String {
    match v {
        Value::String(s) if TIME_FIELDS.contains(&key) => {
            local_time(s, style.zone).unwrap_or_else(|| escape(s).into_owned())
        }
        _ => scalar(v, style),
    }
}

/// A value on one line; an object as `key=value` pairs (its times in the zone too).
fn scalar(v: &Value, style: &Style) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => escape(s).into_owned(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items
            .iter()
            .map(|i| scalar(i, style))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), cell(k, v, style)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Display width: CJK, full-width characters and emoji take two columns, combining marks
/// none.
pub fn width(s: &str) -> usize {
    s.width()
}

/// `s` cut to at most `max` display columns, `…` marking the cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        out.push(c);
        // Measured whole: a variation selector or a joiner can widen what came before it.
        if width(&out) + 1 > max {
            out.pop();
            break;
        }
    }
    out.push('…');
    Cow::Owned(out)
}

/// `s` cut to at most `max` display columns by taking characters out of its middle, `…` in
/// their place: `/dev/gsm/quect…-if02-port0`.
pub fn truncate_middle(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    let chars: Vec<char> = s.chars().collect();
    let tail_room = max.saturating_sub(1) / 2;
    let mut tail = String::new();
    for &c in chars.iter().rev() {
        tail.insert(0, c);
        if width(&tail) > tail_room {
            tail.remove(0);
            break;
        }
    }
    let head = truncate(s, max - width(&tail));
    Cow::Owned(format!("{head}{tail}"))
}

/// `key:  value` lines, values aligned (keys at least `key_width` wide); a value too long for
/// the line wraps under itself.
fn key_values(pairs: &[(String, String)], key_width: usize, style: &Style) -> String {
    let key_width = pairs
        .iter()
        .map(|(k, _)| width(k))
        .max()
        .unwrap_or(0)
        .max(key_width)
        + 1;
    let indent = key_width + 2;
    // A value gets the rest of the line, and at least 10 columns.
    let room = style.columns.saturating_sub(indent).max(10);
    let mut out = String::new();
    for (k, v) in pairs {
        let label = format!("{k}:");
        let pad = " ".repeat(key_width - width(&label) + 2);
        let lines = textwrap::wrap(v, textwrap::Options::new(room).break_words(true));
        let mut lines = lines.iter();
        let first = lines.next().map(|l| l.as_ref()).unwrap_or("");
        out.push_str(&format!("{label}{pad}{first}\n"));
        for line in lines {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn table(items: &[Value], style: &Style) -> String {
    if items.is_empty() {
        return "(none)\n".into();
    }
    // Every key of every row, in the rows' order: a key only some rows have (another host's
    // modem's heartbeat age) goes after the key it follows in them, not at the end.
    let mut columns: Vec<&str> = Vec::new();
    for item in items {
        let mut after: Option<usize> = None;
        for k in item.as_object().into_iter().flat_map(|m| m.keys()) {
            let at = match columns.iter().position(|c| *c == k.as_str()) {
                Some(i) => i,
                None => {
                    let i = after.map_or(0, |a| a + 1);
                    columns.insert(i, k);
                    i
                }
            };
            after = Some(at);
        }
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| cell(c, item.get(c).unwrap_or(&Value::Null), style))
                .collect()
        })
        .collect();
    let headers: Vec<String> = columns.iter().map(|c| escape(c).to_uppercase()).collect();
    let natural: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| width(&r[i]))
                .chain([width(h)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let values: Vec<usize> = (0..columns.len())
        .map(|i| rows.iter().map(|r| width(&r[i])).max().unwrap_or(0))
        .collect();
    // How narrow each column may get: free text and paths are cut (to 6 and 16 columns),
    // other values never, but a heading wider than its values may be (to 4). The widest
    // columns are cut first.
    let floors: Vec<Option<usize>> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let floor = if FREE_TEXT.contains(c) {
                MIN_FREE_TEXT
            } else if PATHS.contains(c) {
                MIN_PATH
            } else {
                values[i].max(MIN_HEADING)
            };
            (floor < natural[i]).then_some(floor)
        })
        .collect();
    // Labels before data: the headings alone first, if that is enough.
    let headings: Vec<Option<usize>> = columns
        .iter()
        .zip(&floors)
        .map(|(c, f)| f.filter(|_| !FREE_TEXT.contains(c) && !PATHS.contains(c)))
        .collect();
    let widths = fit(natural.clone(), &headings, style.columns)
        .or_else(|| fit(natural, &floors, style.columns));
    let Some(widths) = widths else {
        return list(&columns, &rows, style);
    };
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let cell = if PATHS.contains(&columns[i]) {
                truncate_middle(cell, widths[i])
            } else {
                truncate(cell, widths[i])
            };
            s.push_str(&cell);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(widths[i] - width(&cell) + 2));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&headers);
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

/// Column widths whose line (two spaces between columns) takes at most `columns`: the
/// columns that may shrink (a `floors` entry: free text, and how narrow it may get) are cut to
/// one level, the widest first, as little as needed. `None` when even their floors are too
/// wide.
fn fit(widths: Vec<usize>, floors: &[Option<usize>], columns: usize) -> Option<Vec<usize>> {
    let at = |level: usize| -> Vec<usize> {
        widths
            .iter()
            .zip(floors)
            .map(|(&w, floor)| match floor {
                Some(f) => w.min(level.max(*f)),
                None => w,
            })
            .collect()
    };
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    let widest = widths.iter().copied().max().unwrap_or(0);
    (0..=widest).rev().map(at).find(|w| total(w) <= columns)
}

/// A table that cannot fit, as one `key: value` block per row.
fn list(columns: &[&str], rows: &[Vec<String>], style: &Style) -> String {
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let pairs: Vec<(String, String)> = columns
            .iter()
            .map(|c| escape(c).into_owned())
            .zip(row.iter().cloned())
            .collect();
        out.push_str(&key_values(&pairs, 0, style));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PEOPLE: Style = Style {
        json: false,
        zone: chrono_tz::UTC,
        columns: 80,
    };

    fn narrow(columns: usize) -> Style {
        Style { columns, ..PEOPLE }
    }

    /// The display column where `needle` starts on `line`.
    fn column_of(line: &str, needle: &str) -> usize {
        width(&line[..line.find(needle).unwrap()])
    }

    #[test]
    fn widths_of_cjk_emoji_and_combining_marks() {
        assert_eq!(width("运维组"), 6);
        // Outside the old hand-written ranges: rocket, robot, a ZWJ family, a flag.
        assert_eq!(width("🚀"), 2);
        assert_eq!(width("🤖"), 2);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width("ｆｕｌｌ"), 8);
        let v = json!([
            {"handle": "rocket", "name": "🚀🤖组", "phone": "+8613800138000"},
            {"handle": "e", "name": "Rene\u{301}", "phone": "+8613800138001"},
        ]);
        let out = render(&v, &PEOPLE);
        let lines: Vec<&str> = out.lines().collect();
        let at: Vec<usize> = lines.iter().skip(1).map(|l| column_of(l, "+86")).collect();
        assert_eq!(at[0], at[1], "{out}");
        assert_eq!(column_of(lines[0], "PHONE"), at[0], "{out}");
    }

    #[test]
    fn a_wide_table_cuts_its_widest_free_text_column() {
        let text = "明天上午九点在三楼会议室开会，请大家准时参加，带上笔记本电脑和上周的周报🚀";
        let v = json!([
            {"id": 1, "group": "ops", "sender": "alice", "text": text},
            {"id": 22, "group": "sales-team", "sender": "bob", "text": "short"},
        ]);
        let out = render(&v, &narrow(50));
        for line in out.lines() {
            assert!(width(line) <= 50, "{line:?} is {} wide", width(line));
        }
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[1].ends_with('…'), "{out}");
        assert!(
            lines[1].starts_with("1   ops         alice   明天上午"),
            "{out}"
        );
        // As close to the width as whole characters allow (a CJK character takes two).
        assert!(width(lines[1]) >= 49, "cut no shorter than needed: {out}");
        assert!(lines[2].ends_with("short"), "{out}");
        // Wide enough: nothing is cut.
        assert!(render(&v, &narrow(200)).contains(text));
    }

    #[test]
    fn paths_are_cut_in_the_middle_and_headings_before_a_list() {
        let modem = "/dev/gsm/quectel-ec25-0123456789-if02-port0";
        assert_eq!(truncate_middle(modem, 20), "/dev/gsm/q…f02-port0");
        assert!(width(&truncate_middle(modem, 20)) <= 20);
        assert_eq!(truncate_middle("/dev/ttyUSB2", 20), "/dev/ttyUSB2");
        // broadcast show's deliveries, on 80 columns: one line per delivery still.
        let row = |member: &str, number: &str| {
            json!({"member": member, "number": number, "state": "delivered", "modem": modem,
                   "attempts": 1, "refs": [43], "possible_duplicate": false, "error": null})
        };
        let v = json!([row("alice", "+8613800138000"), row("m1", "+380501234567")]);
        let out = render(&v, &PEOPLE);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        for line in &lines {
            assert!(width(line) <= 80, "{line:?}");
        }
        assert!(
            lines[0].starts_with("MEMBER  NUMBER          STATE      MODEM"),
            "{out}"
        );
        assert!(lines[0].contains("ATTEM…  REFS  POSSI…  ERROR"), "{out}");
        assert!(lines[1].contains("  /dev/gsm…2-port0  1  "), "{out}");
        assert!(lines[2].contains("+380501234567   delivered"), "{out}");
    }

    #[test]
    fn headings_are_cut_before_data() {
        // group list: the quota and flag headings are wider than their values.
        let v = json!([{"handle": "ops", "name": "运维组", "header": "【运维组】",
            "daily_quota": 3, "monthly_quota": 31, "pinned_modems": [], "pin_fallback": true,
            "allow_urgent": false}]);
        let out = render(&v, &PEOPLE);
        assert_eq!(
            out,
            "HANDLE  NAME    HEADER      DAILY_Q…  MONTHLY…  PINNED_…  PIN_FAL…  ALLOW_U…\n\
             ops     运维组  【运维组】  3         31        -         true      false\n"
        );
    }

    #[test]
    fn a_table_that_cannot_fit_becomes_a_list() {
        let v = json!([
            {"device": "/dev/gsm/quectel-ec25-0123456789-if02-port0", "state": "ready", "imsi": "460001234567890", "model": "EC25"},
            {"device": "/dev/ttyUSB7", "state": "gone", "imsi": null, "model": null},
        ]);
        let out = render(&v, &narrow(40));
        assert_eq!(
            out,
            "device:  /dev/gsm/quectel-ec25-\n         0123456789-if02-port0\n\
             state:   ready\n\
             imsi:    460001234567890\n\
             model:   EC25\n\
             \n\
             device:  /dev/ttyUSB7\n\
             state:   gone\n\
             imsi:    -\n\
             model:   -\n"
        );
        for line in out.lines() {
            assert!(width(line) <= 40, "{line:?}");
        }
    }

    #[test]
    fn long_values_wrap_under_themselves() {
        let v = json!({"id": 7, "text": "会议改到明天上午九点，地点不变，请互相转告。"});
        assert_eq!(
            render(&v, &narrow(24)),
            "id:    7\ntext:  会议改到明天上午\n       九点，地点不变，\n       请互相转告。\n"
        );
    }

    #[test]
    fn times_are_shown_in_the_zone_with_their_offset() {
        let shanghai = Style {
            zone: chrono_tz::Asia::Shanghai,
            ..PEOPLE
        };
        let v = json!({"created_at": "2026-12-06T14:15:09.123+00:00", "text": "2026-12-06T14:15:09+00:00"});
        assert_eq!(
            render(&v, &shanghai),
            "created_at:  2026-12-06 22:15 +08:00\ntext:        2026-12-06T14:15:09+00:00\n"
        );
        let ny = Style {
            zone: chrono_tz::America::New_York,
            ..PEOPLE
        };
        assert_eq!(
            local_time("2026-07-01T12:00:00Z", ny.zone).as_deref(),
            Some("2026-07-01 08:00 -04:00")
        );
        assert_eq!(
            local_time("2026-12-06T22:15:00+08:00", ny.zone).as_deref(),
            Some("2026-12-06 09:15 -05:00")
        );
        // Inside an object shown on one line (why a broadcast waits) too.
        let v =
            json!({"waiting_reason": {"reason": "quiet_hours", "until": "2026-12-07T00:00:00Z"}});
        assert_eq!(
            render(&v, &shanghai),
            "waiting_reason:  reason=quiet_hours until=2026-12-07 08:00 +08:00\n"
        );
        // Not a time: shown as it is.
        let v = json!([{"id": 1, "received_at": "soon"}]);
        assert_eq!(render(&v, &shanghai), "ID  RECEIVED_AT\n1   soon\n");
    }

    #[test]
    fn control_characters_are_shown_escaped_and_other_text_unchanged() {
        assert_eq!(escape("运维组 😀 Ops"), "运维组 😀 Ops");
        assert_eq!(
            escape("a\u{1b}]0;pwned\u{7}b\u{1b}[2J\r\n\t\u{7f}\u{9b}"),
            "a\\e]0;pwned\\x07b\\e[2J\\x0D\\x0A\\x09\\x7F\\x9B"
        );
        assert_eq!(escape("abc\u{202E}gpj.exe"), "abc\\u{202E}gpj.exe");
        assert_eq!(
            escape_lines("line 1: \u{1b}[H\nline 2"),
            "line 1: \\e[H\nline 2"
        );
        let v =
            json!([{"handle": "eve", "name": "Eve\u{1b}[2J"}, {"handle": "bo", "name": "鲍勃"}]);
        assert_eq!(
            render(&v, &PEOPLE),
            "HANDLE  NAME\neve     Eve\\e[2J\nbo      鲍勃\n"
        );
        let v = json!({"name": "x\u{7}", "tags": ["\u{1b}"]});
        assert_eq!(render(&v, &PEOPLE), "name:  x\\x07\ntags:  \\e\n");
    }

    #[test]
    fn empty_lists_stay_on_their_line() {
        let v = json!({"handle": "ops", "pinned_modems": []});
        assert_eq!(
            render(&v, &PEOPLE),
            "handle:         ops\npinned_modems:  -\n"
        );
    }

    #[test]
    fn tables_align_chinese_text() {
        let v =
            json!([{"handle": "ops", "name": "运维组"}, {"handle": "sales-team", "name": "Sales"}]);
        assert_eq!(
            render(&v, &PEOPLE),
            "HANDLE      NAME\nops         运维组\nsales-team  Sales\n"
        );
    }

    #[test]
    fn objects_become_lines_then_tables() {
        let v =
            json!({"id": 7, "group": "ops", "recipients": [{"number": "+86138", "state": "sent"}]});
        assert_eq!(
            render(&v, &PEOPLE),
            "id:          7\ngroup:       ops\n\nrecipients (1):\nNUMBER  STATE\n+86138  sent\n"
        );
    }

    #[test]
    fn a_column_only_some_rows_have_keeps_its_place_among_theirs() {
        let v = json!([
            {"host": "a", "device": "/dev/a0", "state": "ready", "sent": 1},
            {"host": "b", "device": "/dev/b0", "state": "ready", "age": 3, "sent": 2},
        ]);
        assert_eq!(
            render(&v, &PEOPLE),
            "HOST  DEVICE   STATE  AGE  SENT\na     /dev/a0  ready  -    1\n\
             b     /dev/b0  ready  3    2\n"
        );
    }
}
