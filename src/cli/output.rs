//! Printing the daemon's answers for people: objects as `key: value` lines, lists of objects
//! as aligned tables; or the JSON itself with `--json`. Text meant for people goes through
//! [`escape`] first, so a name or a message cannot move the cursor, clear the screen or set
//! the terminal's title; the JSON is printed exactly as the daemon sent it.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::exit::Class;
use super::Failure;

/// Prints a typed answer (a `protocol` type) as JSON (`json`) or for reading.
pub fn print_result<T: Serialize>(result: &T, json: bool) -> Result<(), Failure> {
    let value = serde_json::to_value(result).map_err(|e| {
        Failure::of(
            Class::Unavailable,
            format!("cannot print the daemon's answer: {e}"),
        )
    })?;
    print_value(&value, json);
    Ok(())
}

/// Prints `v` as JSON (`json`) or for reading.
pub fn print_value(v: &Value, json: bool) {
    if json {
        println!("{v}");
    } else {
        print!("{}", render(v));
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
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Null => {}
        Value::Object(map) => {
            let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
            let mut tables = Vec::new();
            for (k, val) in map {
                match val {
                    Value::Array(items)
                        if !items.is_empty() && items.iter().all(Value::is_object) =>
                    {
                        tables.push((k, items))
                    }
                    _ => out.push_str(&format!(
                        "{:width$}  {}\n",
                        format!("{}:", escape(k)),
                        scalar(val),
                        width = width + 1
                    )),
                }
            }
            for (k, items) in tables {
                out.push_str(&format!("\n{} ({}):\n", escape(k), items.len()));
                out.push_str(&table(items));
            }
        }
        Value::Array(items) if items.iter().all(Value::is_object) => out.push_str(&table(items)),
        other => out.push_str(&format!("{}\n", scalar(other))),
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => escape(s).into_owned(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), scalar(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Display width: CJK and full-width characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

fn table(items: &[Value]) -> String {
    if items.is_empty() {
        return "(none)\n".into();
    }
    let mut columns: Vec<String> = Vec::new();
    for item in items {
        for k in item.as_object().into_iter().flat_map(|m| m.keys()) {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| scalar(item.get(c).unwrap_or(&Value::Null)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| width(&r[i]))
                .chain([width(c)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            s.push_str(cell);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(widths[i] - width(cell) + 2));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(
        &columns
            .iter()
            .map(|c| escape(c).to_uppercase())
            .collect::<Vec<_>>(),
    );
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            render(&v),
            "HANDLE  NAME\neve     Eve\\e[2J\nbo      鲍勃\n"
        );
        let v = json!({"name": "x\u{7}", "tags": ["\u{1b}"]});
        assert_eq!(render(&v), "name:  x\\x07\ntags:  \\e\n");
    }

    #[test]
    fn empty_lists_stay_on_their_line() {
        let v = json!({"handle": "ops", "pinned_modems": []});
        assert_eq!(render(&v), "handle:         ops\npinned_modems:  -\n");
    }

    #[test]
    fn tables_align_chinese_text() {
        let v =
            json!([{"handle": "ops", "name": "运维组"}, {"handle": "sales-team", "name": "Sales"}]);
        assert_eq!(
            render(&v),
            "HANDLE      NAME\nops         运维组\nsales-team  Sales\n"
        );
    }

    #[test]
    fn objects_become_lines_then_tables() {
        let v =
            json!({"id": 7, "group": "ops", "recipients": [{"number": "+86138", "state": "sent"}]});
        assert_eq!(
            render(&v),
            "id:          7\ngroup:       ops\n\nrecipients (1):\nNUMBER  STATE\n+86138  sent\n"
        );
    }
}
