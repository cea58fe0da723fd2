//! Printing the daemon's answers for people: objects as `key: value` lines, lists of objects
//! as aligned tables; or the JSON itself with `--json`.

use serde::Serialize;
use serde_json::Value;

use super::{Failure, EXIT_DAEMON_DOWN};

/// Prints a typed answer (a `protocol` type) as JSON (`json`) or for reading.
pub fn print_result<T: Serialize>(result: &T, json: bool) -> Result<(), Failure> {
    let value = serde_json::to_value(result).map_err(|e| Failure {
        daemon_error: None,
        message: format!("cannot print the daemon's answer: {e}"),
        code: EXIT_DAEMON_DOWN,
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
                        format!("{k}:"),
                        scalar(val),
                        width = width + 1
                    )),
                }
            }
            for (k, items) in tables {
                out.push_str(&format!("\n{k} ({}):\n", items.len()));
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
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", scalar(v)))
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
    let mut out = line(&columns.iter().map(|c| c.to_uppercase()).collect::<Vec<_>>());
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
