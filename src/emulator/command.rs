//! Splitting one command line into commands (ITU-T V.250 5.2 and 5.4): after `AT`, basic
//! commands (`E0`, `&F`, `S0=0`, `I`) follow each other directly; extended commands
//! (`+CMGF=0`, `^CURC=0`) are separated by `;`. Many modems also accept an extended command
//! right after another without `;` (`ATE0+CPMS="SM"+CNMI=2,0,0,2,1`, an SMSTools3 sample), so a
//! `+`/`^`/`$` followed by a letter outside quotes starts a new command too.

/// How an extended command was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `AT+CGMI`
    Exec,
    /// `AT+CMGF?`
    Read,
    /// `AT+CMGF=?`
    Test,
    /// `AT+CMGF=0` (arguments split on commas outside quotes, quotes removed)
    Set(Vec<Arg>),
}

/// One argument of a set command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub text: String,
    pub quoted: bool,
}

/// One command: upper-case name (`E`, `&F`, `S7`, `+CMGS`, `^CURC`) and form. Basic commands
/// keep their number as a one-element `Set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub name: String,
    pub form: Form,
}

impl Cmd {
    /// The arguments of a set command (empty for other forms).
    pub fn args(&self) -> &[Arg] {
        match &self.form {
            Form::Set(a) => a,
            _ => &[],
        }
    }

    /// Argument `i` as a number; `None` when missing or empty.
    pub fn num(&self, i: usize) -> Option<Result<u32, ()>> {
        let a = self.args().get(i)?;
        if a.text.is_empty() {
            return None;
        }
        Some(a.text.parse().map_err(|_| ()))
    }

    /// Argument `i` as text.
    pub fn text(&self, i: usize) -> Option<&str> {
        self.args().get(i).map(|a| a.text.as_str())
    }
}

/// Why a line could not be split (answered `ERROR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError;

/// Finds `AT` in a received line and returns what follows (`None` when there is no `AT`: the
/// modem ignores such a line).
pub fn strip_at(line: &[u8]) -> Option<&[u8]> {
    let pos = line
        .windows(2)
        .position(|w| w[0].eq_ignore_ascii_case(&b'A') && w[1].eq_ignore_ascii_case(&b'T'))?;
    Some(&line[pos + 2..])
}

fn is_ext_prefix(b: u8) -> bool {
    matches!(b, b'+' | b'^' | b'$' | b'%' | b'*' | b'#')
}

/// Splits the text after `AT` into commands.
pub fn parse(body: &[u8]) -> Result<Vec<Cmd>, SyntaxError> {
    let body = String::from_utf8_lossy(body);
    let b: Vec<char> = body.chars().collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == ' ' || c == ';' {
            i += 1;
            continue;
        }
        if c.is_ascii() && is_ext_prefix(c as u8) {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            if i == start + 1 {
                return Err(SyntaxError);
            }
            let name: String = b[start..i].iter().collect::<String>().to_ascii_uppercase();
            let form = if b.get(i) == Some(&'=') && b.get(i + 1) == Some(&'?') {
                i += 2;
                Form::Test
            } else if b.get(i) == Some(&'?') {
                i += 1;
                Form::Read
            } else if b.get(i) == Some(&'=') {
                i += 1;
                let (args, next) = split_args(&b, i)?;
                i = next;
                Form::Set(args)
            } else {
                Form::Exec
            };
            cmds.push(Cmd { name, form });
            continue;
        }
        // Basic command: a letter, or & and a letter, optionally followed by a number; Sn
        // takes `=v` or `?`.
        let upper = c.to_ascii_uppercase();
        let mut name = String::new();
        if upper == '&' {
            let next = b.get(i + 1).ok_or(SyntaxError)?.to_ascii_uppercase();
            if !next.is_ascii_alphabetic() {
                return Err(SyntaxError);
            }
            name.push('&');
            name.push(next);
            i += 2;
        } else if upper.is_ascii_alphabetic() {
            name.push(upper);
            i += 1;
        } else {
            return Err(SyntaxError);
        }
        if name == "S" {
            while i < b.len() && b[i].is_ascii_digit() {
                name.push(b[i]);
                i += 1;
            }
            if name.len() == 1 {
                return Err(SyntaxError);
            }
            let form = match b.get(i) {
                Some('?') => {
                    i += 1;
                    Form::Read
                }
                Some('=') => {
                    i += 1;
                    let s = i;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    Form::Set(vec![Arg {
                        text: b[s..i].iter().collect(),
                        quoted: false,
                    }])
                }
                _ => Form::Exec,
            };
            cmds.push(Cmd { name, form });
            continue;
        }
        if name == "D" {
            // Dial takes the rest of the line.
            let rest: String = b[i..].iter().collect();
            i = b.len();
            cmds.push(Cmd {
                name,
                form: Form::Set(vec![Arg {
                    text: rest,
                    quoted: false,
                }]),
            });
            continue;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let form = if i > s {
            Form::Set(vec![Arg {
                text: b[s..i].iter().collect(),
                quoted: false,
            }])
        } else {
            Form::Exec
        };
        cmds.push(Cmd { name, form });
    }
    Ok(cmds)
}

/// Reads arguments from `i` up to `;`, the end, or a new extended command, outside quotes.
fn split_args(b: &[char], mut i: usize) -> Result<(Vec<Arg>, usize), SyntaxError> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    while i < b.len() {
        let c = b[i];
        if in_quotes {
            if c == '"' {
                in_quotes = false;
            } else {
                cur.push(c);
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                quoted = true;
            }
            ',' => {
                args.push(Arg {
                    text: cur.trim().to_string(),
                    quoted,
                });
                cur.clear();
                quoted = false;
            }
            ';' => break,
            c if c.is_ascii()
                && is_ext_prefix(c as u8)
                && b.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic()) =>
            {
                break
            }
            _ => cur.push(c),
        }
        i += 1;
    }
    if in_quotes {
        return Err(SyntaxError);
    }
    args.push(Arg {
        text: cur.trim().to_string(),
        quoted,
    });
    Ok((args, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<String> {
        parse(strip_at(line.as_bytes()).unwrap())
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn splits_basic_and_extended() {
        assert_eq!(names("AT"), Vec::<String>::new());
        assert_eq!(names("ATE0"), vec!["E"]);
        assert_eq!(names("ATE0V1&F"), vec!["E", "V", "&F"]);
        assert_eq!(names("AT+CMEE=1;+CREG=2"), vec!["+CMEE", "+CREG"]);
        assert_eq!(names("ATE0+CPMS?"), vec!["E", "+CPMS"]);
        assert_eq!(
            names("ATE0+CPMS=\"SM\"+CNMI=2,0,0,2,1"),
            vec!["E", "+CPMS", "+CNMI"]
        );
        assert_eq!(names("at^curc=0"), vec!["^CURC"]);
        assert_eq!(names("xxAT+CSQ"), vec!["+CSQ"]);
        assert_eq!(names("ATS0=0"), vec!["S0"]);
        assert!(strip_at(b"\x1b").is_none());
    }

    #[test]
    fn forms_and_arguments() {
        let c = parse(b"+CSCA=\"+8613800100500\",145").unwrap();
        assert_eq!(c[0].text(0), Some("+8613800100500"));
        assert_eq!(c[0].num(1), Some(Ok(145)));
        assert!(c[0].args()[0].quoted);
        let c = parse(b"+CMGF=?").unwrap();
        assert_eq!(c[0].form, Form::Test);
        let c = parse(b"+CMGF?").unwrap();
        assert_eq!(c[0].form, Form::Read);
        let c = parse(b"+CGMI").unwrap();
        assert_eq!(c[0].form, Form::Exec);
        let c = parse(b"+CPIN=\"a;b\"").unwrap();
        assert_eq!(c[0].text(0), Some("a;b"));
        let c = parse(b"+CNMI=2,,0").unwrap();
        assert_eq!(c[0].num(1), None);
        assert_eq!(c[0].num(2), Some(Ok(0)));
        assert_eq!(parse(b"+CPIN=\"1234"), Err(SyntaxError));
        assert_eq!(parse(b"+"), Err(SyntaxError));
        assert_eq!(parse(b"!"), Err(SyntaxError));
    }
}
