//! Sensitive words: lists loaded from files (one word per line, `#` starts a comment line),
//! matched with Aho-Corasick after both the words and the text are normalized: lower case,
//! full-width ASCII and symbols to half-width (`ＡＢＣ` = `abc`), half-width katakana and CJK
//! punctuation to full-width (`ｶﾞ` = `ガ`). Words match anywhere, also inside other words
//! (Chinese has no spaces); the leftmost, then longest, match wins.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aho_corasick::{AhoCorasick, MatchKind};

/// What to do with a message that contains sensitive words (`[message] sensitive_policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitivePolicy {
    /// Refuse it, naming the words (the default).
    #[default]
    Reject,
    /// Send it with each character of each word replaced by `*`.
    Mask,
}

impl FromStr for SensitivePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reject" => Ok(SensitivePolicy::Reject),
            "mask" => Ok(SensitivePolicy::Mask),
            _ => Err(format!(
                "'{s}' is not a sensitive-word policy (use reject or mask)"
            )),
        }
    }
}

/// The message was refused because of these words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the message contains sensitive words: {}", .words.join(", "))]
pub struct SensitiveWordsFound {
    /// Each word as written in the list, in order of first appearance.
    pub words: Vec<String>,
}

/// A word list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the sensitive word list {path}: {reason}")]
pub struct WordListError {
    pub path: PathBuf,
    pub reason: String,
}

/// One match in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The word as written in the list.
    pub word: String,
    /// Byte range of the match in the original text.
    pub start: usize,
    pub end: usize,
}

/// A compiled set of sensitive words. Cheap to clone.
#[derive(Clone, Default)]
pub struct SensitiveFilter {
    words: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl fmt::Debug for SensitiveFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SensitiveFilter({} words)", self.words.len())
    }
}

impl SensitiveFilter {
    /// A filter for these words; blank words are ignored.
    pub fn new<I, S>(words: I) -> SensitiveFilter
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut kept: Vec<String> = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        for w in words {
            let w = w.as_ref().trim();
            let norm = normalize(w).text;
            if norm.trim().is_empty() || patterns.contains(&norm) {
                continue;
            }
            kept.push(w.to_string());
            patterns.push(norm);
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            // Patterns are a few thousand words at most: building cannot fail.
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .ok()
        };
        SensitiveFilter {
            words: kept,
            matcher,
        }
    }

    /// The words of a list file's text: one per line, blank lines and `#` lines skipped.
    pub fn parse_list(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    /// A filter for every word of these list files.
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<SensitiveFilter, WordListError> {
        let mut words = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let text = std::fs::read_to_string(p).map_err(|e| WordListError {
                path: p.to_path_buf(),
                reason: e.to_string(),
            })?;
            words.extend(SensitiveFilter::parse_list(&text));
        }
        Ok(SensitiveFilter::new(words))
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Every match in `text`, left to right, not overlapping.
    pub fn find(&self, text: &str) -> Vec<Found> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        let norm = normalize(text);
        matcher
            .find_iter(&norm.text)
            .map(|m| {
                let (start, end) = norm.original(m.start(), m.end());
                Found {
                    word: self.words[m.pattern().as_usize()].clone(),
                    start,
                    end,
                }
            })
            .collect()
    }

    /// Applies `policy`: the text unchanged when clean, masked under `Mask`, or the error.
    /// The second value lists the words masked.
    pub fn apply(
        &self,
        text: &str,
        policy: SensitivePolicy,
    ) -> Result<(String, Vec<String>), SensitiveWordsFound> {
        let found = self.find(text);
        if found.is_empty() {
            return Ok((text.to_string(), Vec::new()));
        }
        let mut words: Vec<String> = Vec::new();
        for f in &found {
            if !words.contains(&f.word) {
                words.push(f.word.clone());
            }
        }
        match policy {
            SensitivePolicy::Reject => Err(SensitiveWordsFound { words }),
            SensitivePolicy::Mask => {
                let mut out = String::with_capacity(text.len());
                let mut at = 0;
                for f in &found {
                    out.push_str(&text[at..f.start]);
                    out.extend(text[f.start..f.end].chars().map(|_| '*'));
                    at = f.end;
                }
                out.push_str(&text[at..]);
                Ok((out, words))
            }
        }
    }
}

/// A normalized text and, for each unit written into it, where it came from.
struct Normalized {
    text: String,
    /// (start in `text`, start in the original, end in the original), ascending.
    spans: Vec<(usize, usize, usize)>,
}

impl Normalized {
    /// The original byte range covering normalized bytes `start..end`.
    fn original(&self, start: usize, end: usize) -> (usize, usize) {
        let unit = |at: usize| match self.spans.binary_search_by(|s| s.0.cmp(&at)) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        (self.spans[unit(start)].1, self.spans[unit(end - 1)].2)
    }
}

/// Half-width katakana U+FF66..=U+FF9D as full-width.
const HALF_KATAKANA: &str = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";

fn width_fold(c: char) -> char {
    let u = c as u32;
    let mapped = match u {
        0xFF01..=0xFF5E => u - 0xFEE0,
        0x3000 => 0x20,
        0xFFE0 => 0xA2,
        0xFFE1 => 0xA3,
        0xFFE2 => 0xAC,
        0xFFE3 => 0xAF,
        0xFFE4 => 0xA6,
        0xFFE5 => 0xA5,
        0xFFE6 => 0x20A9,
        0xFF61 => 0x3002,
        0xFF62 => 0x300C,
        0xFF63 => 0x300D,
        0xFF64 => 0x3001,
        0xFF65 => 0x30FB,
        0xFF66..=0xFF9D => {
            return HALF_KATAKANA
                .chars()
                .nth((u - 0xFF66) as usize)
                .unwrap_or(c)
        }
        0xFF9E => 0x309B,
        0xFF9F => 0x309C,
        _ => u,
    };
    char::from_u32(mapped).unwrap_or(c)
}

/// The voiced (`ﾞ`) or semi-voiced (`ﾟ`) form of a full-width katakana, if it has one.
fn voiced(base: char, mark: char) -> Option<char> {
    let u = base as u32;
    let v = match mark {
        '\u{FF9E}' => match u {
            0x30AB..=0x30C2 if u % 2 == 1 => u + 1, // カ..ヂ: カ→ガ ... チ→ヂ
            0x30C4..=0x30C8 if u % 2 == 0 => u + 1, // ツ→ヅ, テ→デ, ト→ド
            0x30CF..=0x30DB if (u - 0x30CF) % 3 == 0 => u + 1, // ハ→バ ... ホ→ボ
            0x30A6 => 0x30F4,                       // ウ→ヴ
            _ => return None,
        },
        '\u{FF9F}' => match u {
            0x30CF..=0x30DB if (u - 0x30CF) % 3 == 0 => u + 2, // ハ→パ ... ホ→ポ
            _ => return None,
        },
        _ => return None,
    };
    char::from_u32(v)
}

fn normalize(text: &str) -> Normalized {
    let mut out = Normalized {
        text: String::with_capacity(text.len()),
        spans: Vec::with_capacity(text.len()),
    };
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let mut end = at + c.len_utf8();
        let mut folded = width_fold(c);
        if let Some(&(mark_at, mark)) = chars.peek() {
            if let Some(v) = (c != folded).then(|| voiced(folded, mark)).flatten() {
                folded = v;
                end = mark_at + mark.len_utf8();
                chars.next();
            }
        }
        out.spans.push((out.text.len(), at, end));
        out.text.extend(folded.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn katakana_table_covers_the_block() {
        assert_eq!(HALF_KATAKANA.chars().count(), 0xFF9D - 0xFF66 + 1);
        assert_eq!(normalize("ｶﾞﾊﾟｳﾞｱ").text, "ガパヴア");
        assert_eq!(normalize("ＡＢＣ１２３　！").text, "abc123 !");
    }

    #[test]
    fn finds_words_whatever_their_width_and_case() {
        let f = SensitiveFilter::new(["赌博", "Casino", "ＶＰＮ", "ガス"]);
        let found = f.find("免费CASINO和ｖｐｎ，ｶﾞｽ！");
        let words: Vec<_> = found.iter().map(|f| f.word.as_str()).collect();
        assert_eq!(words, ["Casino", "ＶＰＮ", "ガス"]);
        let text = "免费CASINO和ｖｐｎ，ｶﾞｽ！";
        assert_eq!(&text[found[1].start..found[1].end], "ｖｐｎ");
        assert_eq!(&text[found[2].start..found[2].end], "ｶﾞｽ");
    }

    #[test]
    fn reject_names_the_words_and_mask_stars_them() {
        let f = SensitiveFilter::new(["赌博", "casino", "赌博网站"]);
        let err = f
            .apply("上赌博网站，或去Casino，别赌博", SensitivePolicy::Reject)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the message contains sensitive words: 赌博网站, casino, 赌博"
        );
        let (masked, words) = f
            .apply("上赌博网站，或去Ｃａｓｉｎｏ", SensitivePolicy::Mask)
            .unwrap();
        assert_eq!(masked, "上****，或去******");
        assert_eq!(words, ["赌博网站", "casino"]);
        assert_eq!(
            f.apply("明天开会", SensitivePolicy::Reject).unwrap(),
            ("明天开会".to_string(), vec![])
        );
    }

    #[test]
    fn lists_skip_comments_and_blanks() {
        let words = SensitiveFilter::parse_list("# banned\n\n 赌博 \n#x\ncasino\r\n");
        assert_eq!(words, ["赌博", "casino"]);
        assert!(SensitiveFilter::new(["", "  "]).is_empty());
        assert_eq!(SensitiveFilter::new(["abc", "ＡＢＣ"]).len(), 1);
        assert_eq!("MASK".parse(), Ok(SensitivePolicy::Mask));
        assert!("drop".parse::<SensitivePolicy>().is_err());
    }
}
