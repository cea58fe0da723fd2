//! The transcript format of `fixtures/README.md`: what the host writes, what the modem
//! answers, pauses, the port vanishing; steps (what the engine is asked) and their expected
//! results. Parsed for replay, written by `groupsms modem probe --record`.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::time::Instant;

/// One thing that happens on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `> bytes`: the host (we) writes exactly these bytes.
    Host { bytes: Vec<u8>, line: usize },
    /// `< bytes`: the modem sends these bytes (replay may cut them differently).
    Modem { bytes: Vec<u8>, line: usize },
    /// `@ seconds`: the modem stays silent this long (or until the host writes what comes after).
    Pause { duration: Duration, line: usize },
    /// `! eof`: the port vanishes (reads end, writes fail).
    Eof { line: usize },
}

/// `== action` and its `=> expected result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: String,
    pub expect: Option<String>,
    pub line: usize,
    /// Index in [`Transcript::events`] of the first event after the `==` line.
    pub first_event: usize,
}

/// A parsed transcript.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// `# key: value` lines of the header block.
    pub headers: Vec<(String, String)>,
    /// `% key value`: engine settings for replay.
    pub config: Vec<(String, String)>,
    pub steps: Vec<Step>,
    pub events: Vec<Event>,
}

impl Transcript {
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TranscriptError {
    pub line: usize,
    pub message: String,
}

/// Bytes as a transcript line: printable ASCII as is, `\r`, `\n`, `\t`, `\\`, other bytes
/// (and a space at the very end, which editors would eat) as `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b' ' if i + 1 == bytes.len() => s.push_str("\\x20"),
            0x20..=0x7E => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02X}");
            }
        }
    }
    s
}

/// The inverse of [`escape`]; UTF-8 text is taken as its bytes.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some((_, 'r')) => out.push(b'\r'),
            Some((_, 'n')) => out.push(b'\n'),
            Some((_, 't')) => out.push(b'\t'),
            Some((_, '\\')) => out.push(b'\\'),
            Some((_, 'x')) => {
                let hex = text.get(i + 2..i + 4).ok_or("\\x needs two hex digits")?;
                let b = u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?;
                out.push(b);
                chars.next();
                chars.next();
            }
            Some((_, other)) => return Err(format!("unknown escape \\{other}")),
            None => return Err("a line cannot end with a lone \\".into()),
        }
    }
    Ok(out)
}

/// Parses a transcript (see `fixtures/README.md`).
pub fn parse(text: &str) -> Result<Transcript, TranscriptError> {
    let mut t = Transcript::default();
    let mut in_header = true;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let err = |message: String| TranscriptError { line, message };
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        if let Some(comment) = raw.strip_prefix('#') {
            if in_header {
                if let Some((k, v)) = comment.trim().split_once(':') {
                    if !k.trim().is_empty() && !k.contains(' ') {
                        t.headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
            }
            continue;
        }
        in_header = false;
        let (tag, rest) = match raw.split_once(' ') {
            Some((tag, rest)) => (tag, rest),
            None => (raw, ""),
        };
        match tag {
            ">" | "<" => {
                if rest.is_empty() {
                    return Err(err(format!("`{tag}` needs bytes after it")));
                }
                let bytes = unescape(rest).map_err(err)?;
                t.events.push(if tag == ">" {
                    Event::Host { bytes, line }
                } else {
                    Event::Modem { bytes, line }
                });
            }
            "@" => {
                let secs: f64 = rest
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("`@` needs seconds, got {rest:?}")))?;
                if !(0.0..=86_400.0).contains(&secs) {
                    return Err(err(format!("pause of {secs} s is out of range")));
                }
                t.events.push(Event::Pause {
                    duration: Duration::from_secs_f64(secs),
                    line,
                });
            }
            "!" => match rest.trim() {
                "eof" => t.events.push(Event::Eof { line }),
                other => return Err(err(format!("unknown directive `! {other}`"))),
            },
            "%" => {
                let (k, v) = rest
                    .trim()
                    .split_once(' ')
                    .ok_or_else(|| err("`%` needs a key and a value".into()))?;
                t.config.push((k.to_string(), v.trim().to_string()));
            }
            "==" => t.steps.push(Step {
                action: rest.trim().to_string(),
                expect: None,
                line,
                first_event: t.events.len(),
            }),
            "=>" => {
                let step = t
                    .steps
                    .last_mut()
                    .ok_or_else(|| err("`=>` before any `==` step".into()))?;
                if step.expect.is_some() {
                    return Err(err("a step has one `=>` line".into()));
                }
                step.expect = Some(rest.trim().to_string());
            }
            other => return Err(err(format!("unknown line kind `{other}`"))),
        }
    }
    Ok(t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Host,
    Modem,
}

/// Records the bytes of a live session with their times.
#[derive(Debug, Clone)]
pub struct Recorder {
    start: Instant,
    entries: Vec<(Duration, Dir, Vec<u8>)>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            start: Instant::now(),
            entries: Vec::new(),
        }
    }

    pub fn wrote(&mut self, bytes: &[u8]) {
        self.push(Dir::Host, bytes);
    }

    pub fn read(&mut self, bytes: &[u8]) {
        self.push(Dir::Modem, bytes);
    }

    fn push(&mut self, dir: Dir, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let at = self.start.elapsed();
        self.entries.push((at, dir, bytes.to_vec()));
    }

    /// The recorded session as transcript events: one `>` per write, the modem's bytes cut
    /// after each LF (a bare CR LF stays with the line after it), and a `@` pause before the modem speaks after `min_gap` of silence.
    pub fn events(&self, min_gap: Duration) -> Vec<Event> {
        let mut out = Vec::new();
        let mut last = Duration::ZERO;
        for (at, dir, bytes) in &self.entries {
            match dir {
                Dir::Host => out.push(Event::Host {
                    bytes: bytes.clone(),
                    line: 0,
                }),
                Dir::Modem => {
                    let gap = at.saturating_sub(last);
                    if gap >= min_gap {
                        out.push(Event::Pause {
                            duration: Duration::from_millis(gap.as_millis() as u64 / 10 * 10),
                            line: 0,
                        });
                    }
                    // One `<` line per modem line; a bare CR LF joins the line after it.
                    let mut pending: Vec<u8> = Vec::new();
                    for piece in bytes.split_inclusive(|b| *b == b'\n') {
                        pending.extend_from_slice(piece);
                        if !piece.iter().all(|b| *b == b'\r' || *b == b'\n') {
                            out.push(Event::Modem {
                                bytes: std::mem::take(&mut pending),
                                line: 0,
                            });
                        }
                    }
                    if !pending.is_empty() {
                        out.push(Event::Modem {
                            bytes: pending,
                            line: 0,
                        });
                    }
                }
            }
            last = *at;
        }
        out
    }
}

/// Writes events in the transcript syntax, one per line.
pub fn render_events(events: &[Event]) -> String {
    let mut s = String::new();
    for e in events {
        match e {
            Event::Host { bytes, .. } => {
                let _ = writeln!(s, "> {}", escape(bytes));
            }
            Event::Modem { bytes, .. } => {
                let _ = writeln!(s, "< {}", escape(bytes));
            }
            Event::Pause { duration, .. } => {
                let _ = writeln!(s, "@ {}", duration.as_secs_f64());
            }
            Event::Eof { .. } => s.push_str("! eof\n"),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let bytes = b"AT+CMGS=17\r\r\n> \x1a\\\xff";
        assert_eq!(
            escape(bytes),
            "AT+CMGS=17\\r\\r\\n>\\x20\\x1A\\\\\\xFF".replace(">\\x20", "> ")
        );
        assert_eq!(unescape(&escape(bytes)).unwrap(), bytes);
        assert_eq!(escape(b"> "), ">\\x20");
        assert_eq!(unescape("中").unwrap(), "中".as_bytes());
        assert!(unescape("\\q").is_err());
        assert!(unescape("\\x1").is_err());
        assert!(unescape("abc\\").is_err());
    }

    #[test]
    fn parses_every_kind_of_line() {
        let t = parse(
            "# modem: Test 1\n# source: here\n\n% pin 1234\n== init\n> AT\\r\n@ 1.5\n< \\r\\nOK\\r\\n\n# note\n=> {\"a\":1}\n! eof\n",
        )
        .unwrap();
        assert_eq!(t.header("modem"), Some("Test 1"));
        assert_eq!(t.config, vec![("pin".to_string(), "1234".to_string())]);
        assert_eq!(t.steps.len(), 1);
        assert_eq!(t.steps[0].expect.as_deref(), Some("{\"a\":1}"));
        assert_eq!(t.events.len(), 4);
        assert_eq!(
            t.events[1],
            Event::Pause {
                duration: Duration::from_millis(1500),
                line: 7
            }
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("== x\n? y\n").unwrap_err().line, 2);
        assert_eq!(
            parse("=> y\n").unwrap_err().message,
            "`=>` before any `==` step"
        );
        assert!(parse("@ soon\n").is_err());
        assert!(parse("! later\n").is_err());
        assert!(parse(">\n").is_err());
        assert!(parse("== a\n=> 1\n=> 2\n").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn recorder_renders_parseable_events() {
        let mut r = Recorder::new();
        r.wrote(b"AT\r");
        tokio::time::sleep(Duration::from_millis(500)).await;
        r.read(b"\r\nOK\r\n\r\n+CSQ: 1,2\r\n");
        let text = render_events(&r.events(Duration::from_millis(100)));
        assert_eq!(
            text,
            "> AT\\r\n@ 0.5\n< \\r\\nOK\\r\\n\n< \\r\\n+CSQ: 1,2\\r\\n\n"
        );
        assert_eq!(parse(&text).unwrap().events.len(), 4);
    }
}
