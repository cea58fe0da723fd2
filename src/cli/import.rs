//! `groupsms member import FILE`: the CSV sent to the daemon in pieces that each fit one
//! request line (`member_import_begin`, `member_import_rows` × N, `member_import_commit`), so a
//! file of any size the daemon accepts goes through. The daemon reads the pieces as one file at
//! the commit: all or nothing (unless `--skip-bad`), bad rows named by their line. On a
//! terminal, the progress is drawn on standard error.

use std::io::{IsTerminal, Write};
use std::path::Path;

use super::output::{print_result, redraw_status};
use super::{Context, Failure};
use crate::protocol::{self as p, Request, MAX_LINE};

/// Room left in a request line for the envelope around a piece
/// (`{"id":…,"op":"member_import_rows","args":{"import":…,"csv":"…"}}`).
const ENVELOPE: usize = 128;

/// Imports `file` through the daemon and prints what was done.
pub fn run(ctx: &Context, file: &Path, skip_bad: bool) -> Result<(), Failure> {
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", file.display())))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        Failure::bad_input(format!(
            "{} line {line}: not valid UTF-8 (save the file as CSV UTF-8)",
            file.display()
        ))
    })?;
    let mut client = ctx.client()?;
    let begun: p::ImportBegun =
        client.call_as(Request::MemberImportBegin(p::MemberImportBegin {
            skip_bad,
        }))?;
    let progress = Progress::new(file, text.len());
    let mut sent = 0usize;
    for piece in pieces(&text, MAX_LINE - ENVELOPE) {
        let staged: p::ImportStaged =
            client.call_as(Request::MemberImportRows(p::MemberImportRows {
                import: begun.import,
                csv: piece.to_string(),
            }))?;
        sent += piece.len();
        progress.show(staged.rows, sent);
    }
    progress.saving();
    let result: Result<p::ImportResult, Failure> =
        client.call_as(Request::MemberImportCommit(p::ImportRef {
            import: begun.import,
        }));
    progress.done();
    print_result(&result?, &ctx.style())
}

/// `text` cut into pieces whose JSON string form (without its quotes) is at most `budget`
/// bytes: at line ends where one is within reach, else at a character boundary.
pub fn pieces(text: &str, budget: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut size, mut last_newline) = (0usize, 0usize, None);
    for (i, c) in text.char_indices() {
        let cost = escaped_len(c);
        while size + cost > budget && i > start {
            let cut = last_newline.filter(|&n| n > start).unwrap_or(i);
            out.push(&text[start..cut]);
            size = escaped_size(&text[cut..i]);
            start = cut;
            last_newline = None;
        }
        size += cost;
        if c == '\n' {
            last_newline = Some(i + 1);
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Bytes `c` takes in a JSON string as serde_json writes it.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

fn escaped_size(s: &str) -> usize {
    s.chars().map(escaped_len).sum()
}

/// The import's progress on standard error, when it is a terminal.
struct Progress {
    tty: bool,
    name: String,
    total: usize,
}

impl Progress {
    fn new(file: &Path, total: usize) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            name: super::output::escape(&file.display().to_string()).into_owned(),
            total,
        }
    }

    fn show(&self, rows: u64, sent: usize) {
        if self.tty {
            let percent = (sent * 100).checked_div(self.total).unwrap_or(100);
            redraw_status(&format!(
                "importing {}: {rows} rows sent ({percent}%)",
                self.name
            ));
        }
    }

    fn saving(&self) {
        if self.tty {
            redraw_status(&format!(
                "importing {}: checking and saving every row…",
                self.name
            ));
        }
    }

    fn done(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_join_back_and_each_fits_its_line() {
        let mut text = String::from("handle,name,phone\n");
        for i in 0..500 {
            text.push_str(&format!("m{i},\"成员 \"\"{i}\"\"\",139{i:08}\n"));
        }
        text.push_str("tail,\tno newline,1");
        for budget in [40, 100, 1000, 100_000] {
            let parts = pieces(&text, budget);
            assert_eq!(parts.concat(), text, "budget {budget}");
            for part in &parts {
                let json = serde_json::to_string(part).unwrap();
                assert!(json.len() - 2 <= budget, "{budget}: {part:?}");
            }
            if budget >= 100 {
                // Cut at line ends when a line fits.
                assert!(parts[..parts.len() - 1].iter().all(|p| p.ends_with('\n')));
            }
        }
        // A line longer than the budget is cut inside, at character boundaries.
        let long = "名".repeat(100);
        let parts = pieces(&long, 31);
        assert_eq!(parts.concat(), long);
        assert!(parts.iter().all(|p| p.len() <= 31 && !p.is_empty()));
        assert!(pieces("", 10).is_empty());
    }
}
