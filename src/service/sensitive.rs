//! Sensitive words: lists loaded from files (one word per line, `#` starts a comment line),
//! matched with Aho-Corasick on a *normalized view* of the text. The words and the text go
//! through the same function, `normalize`, one character of the original at a time:
//!
//! 1. **Compatibility decomposition** (NFKD, `unicode-normalization`): full-width and
//!    half-width forms, ligatures (`ﬁ` = `fi`), mathematical letters (`𝐟𝐫𝐞𝐞`), circled letters
//!    (`ⓕ`), superscripts and compatibility ideographs become their plain characters; an
//!    accented letter becomes the letter and its combining marks. With the marks dropped (3)
//!    and Hangul and kana voicing recomposed (7), the result is NFKC without accents.
//! 2. **Lower case** (`char::to_lowercase`).
//! 3. **Invisible characters are dropped** (general category from `unicode-properties`): every
//!    mark (Mn, Mc, Me: combining accents, variation selectors U+FE00..U+FE0F and
//!    U+E0100..U+E01EF), every format character (Cf: ZWSP, ZWJ, ZWNJ, BOM, soft hyphen, word
//!    joiner, bidi marks, tags...) and the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0).
//!    They are not even boundaries: `fr\u{200B}ee` is `free`.
//! 4. **Separators are skipped**: spaces (Z*, U+3000 included), control characters (Cc:
//!    newlines, tabs, NUL), punctuation (P*) and symbols (S*, emoji included) are left out of
//!    the view, so `f r e e`, `f.r.e.e`, `代 开\n发，票` read as the words. The view remembers
//!    where they stood (see the rule below).
//! 5. **Look-alikes fold to Latin**: a non-ASCII letter or digit whose UTS #39 confusable
//!    skeleton (`unicode-security`, Unicode's `confusables.txt`, the table rustc uses for its
//!    confusable-identifier lint) is made only of ASCII letters and digits becomes that ASCII
//!    (Cyrillic `а о е р с х`, Greek `ο ν`..., `ǀ` = `l`). Only towards ASCII: ASCII itself is never
//!    folded (`m` stays `m`, not `rn`; `0` stays `0`), and skeletons into other scripts are
//!    ignored, so Chinese text is not folded onto kana. `unicode-security` was chosen because
//!    it is Unicode's own table, updated with Unicode by the unicode-rs project, with nothing
//!    added (`decancer`, a curated table for user names, was not evaluated further).
//! 6. **Traditional Chinese to simplified**, character by character, with OpenCC's `t2s`
//!    conversion applied to each ideograph alone, which is its `TSCharacters` table
//!    (`ferrous-opencc`, a maintained pure-Rust OpenCC with the dictionaries embedded, about
//!    270 KB, Apache-2.0, current dependencies; `zhconv` is GPL, `character_converter` and
//!    `fast2s` sit on old dependencies such as bincode 1 or hashbrown 0.12): `代開發票` =
//!    `代开发票`. The table of the CJK blocks (BMP, extension A,
//!    extensions B to F) is built once, at first use (about 40 ms). Character by character
//!    keeps each normalized character tied to the original character it came from;
//!    phrase-level conversion would add nothing for matching, both sides being converted the
//!    same way.
//! 7. **Hangul and kana voicing are recomposed**: jamo into syllables, so a syllable never
//!    matches part of another (`하` does not match inside `한`), and the kana voicing marks
//!    (U+3099, U+309A, also from half-width `ﾞ ﾟ`) back onto their kana: `ｶﾞｽ` = `ガス`, which
//!    is not `カス`. These are the only marks kept.
//!
//! Each character of the view keeps the byte range of the original text it came from
//! (invisible characters right after it included), so `mask` stars exactly the original
//! characters of a match *and everything between them* (spaces, zero-width characters,
//! punctuation): a masked message does not leak the word. One `*` stands for each normalized
//! character of the match (`f r e e` becomes `****`); overlapping matches are all starred.
//! `reject` names the words as written in the list, in order of appearance (leftmost, then
//! longest, matches).
//!
//! **The separator rule.** Words match anywhere, also inside other words, as before (Chinese
//! has no spaces; a Latin word inside a longer Latin word, `sex` in `Essex`, is a match: lists
//! are meant to be strict and this was already so). Separators are skipped only *between* the
//! characters of a word, never inside a single-character word, so a one-character word
//! matches exactly where it is written. One limit keeps ordinary Latin text usable: a match that
//! skips separators (the word is spread out) must not be glued to ASCII letters or digits on
//! either side. `f r e e`, `f.r.e.e` and `去 f r e e` are matches; `its exam` does not contain
//! `sex`, because the `s` is the end of `its`. Chinese is matched across separators without
//! that limit (`代 开 发 票`, `代，开，发，票` are matches).
//!
//! A word that is empty once normalized (only spaces, punctuation, symbols or invisible
//! characters) is a configuration error naming the file and line: silently ignoring it would
//! leave a hole, matching it would stop everything.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use unicode_normalization::char::{compose, decompose_compatible};
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// What to do with a message that contains sensitive words (`[message] sensitive_policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitivePolicy {
    /// Refuse it, naming the words (the default).
    #[default]
    Reject,
    /// Send it with each word, and whatever was inserted between its characters, replaced by
    /// one `*` per character of the word.
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

/// A word list could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordListError {
    /// The file could not be read.
    #[error("cannot read the sensitive word list {}: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// A word has nothing left to match once normalized.
    #[error(
        "{origin}: the sensitive word {word:?} is empty once normalized (only spaces, \
         punctuation, symbols or invisible characters); write the word itself or remove the line"
    )]
    EmptyWord {
        /// `FILE:LINE` for a list file, `word N` for a list given in code.
        origin: String,
        word: String,
    },
    /// The automaton could not be built (far beyond any real list).
    #[error("the sensitive word list cannot be compiled: {reason}")]
    TooLarge { reason: String },
}

/// One match in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The word as written in the list.
    pub word: String,
    /// Byte range of the match in the original text, from its first character to its last
    /// (what was inserted between them included).
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
    /// A filter for these words (surrounding white space trimmed). Words that normalize to
    /// the same thing count once, under the first spelling. A word empty once normalized is
    /// an error naming its position (`word N`, from 1).
    pub fn new<I, S>(words: I) -> Result<SensitiveFilter, WordListError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        SensitiveFilter::build(
            words
                .into_iter()
                .enumerate()
                .map(|(i, w)| (format!("word {}", i + 1), w.as_ref().trim().to_string())),
        )
    }

    /// `(origin, word)` pairs into a filter.
    fn build(
        words: impl IntoIterator<Item = (String, String)>,
    ) -> Result<SensitiveFilter, WordListError> {
        let mut kept: Vec<String> = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (origin, word) in words {
            let norm = normalize(&word).text;
            if norm.is_empty() {
                return Err(WordListError::EmptyWord { origin, word });
            }
            if seen.contains_key(&norm) {
                continue;
            }
            seen.insert(norm.clone(), patterns.len());
            kept.push(word);
            patterns.push(norm);
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            // Standard semantics, so that every overlapping match can be reported: mask covers
            // them all, and a match refused by the separator rule cannot hide another one.
            let built = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .map_err(|e| WordListError::TooLarge {
                    reason: e.to_string(),
                })?;
            Some(built)
        };
        Ok(SensitiveFilter {
            words: kept,
            matcher,
        })
    }

    /// The words of a list file's text with their line numbers (from 1): one per line, blank
    /// lines and `#` lines skipped.
    pub fn parse_list(text: &str) -> Vec<(usize, String)> {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
            .map(|(n, l)| (n, l.to_string()))
            .collect()
    }

    /// A filter for every word of these list files.
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<SensitiveFilter, WordListError> {
        let mut words = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let text = std::fs::read_to_string(p).map_err(|e| WordListError::Unreadable {
                path: p.to_path_buf(),
                reason: e.to_string(),
            })?;
            words.extend(
                SensitiveFilter::parse_list(&text)
                    .into_iter()
                    .map(|(line, w)| (format!("{}:{line}", p.display()), w)),
            );
        }
        SensitiveFilter::build(words)
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Every match in the normalized view of `text` that the separator rule accepts,
    /// overlapping ones included, as (word index, first and last+1 normalized character).
    fn matches(&self, norm: &Normalized) -> Vec<(usize, usize, usize)> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        let mut out: Vec<(usize, usize, usize)> = matcher
            .find_overlapping_iter(&norm.text)
            .filter_map(|m| {
                let first = norm.index_at(m.start())?;
                let end = norm.index_at(m.end()).unwrap_or(norm.chars.len());
                (end > first && norm.accepts(first, end)).then_some((
                    m.pattern().as_usize(),
                    first,
                    end,
                ))
            })
            .collect();
        out.sort_by_key(|&(_, first, end)| (first, std::cmp::Reverse(end)));
        out
    }

    /// Every match in `text`, left to right, not overlapping in the normalized view: the
    /// leftmost, then longest. Two matches inside one original character (`½` is `1⁄2`, with
    /// the words `1` and `2`) both report that character's range.
    pub fn find(&self, text: &str) -> Vec<Found> {
        if self.matcher.is_none() {
            return Vec::new();
        }
        let norm = normalize(text);
        self.select(&norm, &self.matches(&norm))
    }

    /// The leftmost-longest, non-overlapping choice among `matches`.
    fn select(&self, norm: &Normalized, matches: &[(usize, usize, usize)]) -> Vec<Found> {
        let mut found = Vec::new();
        let mut next = 0;
        for &(word, first, end) in matches {
            if first < next {
                continue;
            }
            next = end;
            let (start, end) = norm.original(first, end);
            found.push(Found {
                word: self.words[word].clone(),
                start,
                end,
            });
        }
        found
    }

    /// Applies `policy`: the text unchanged when clean, masked under `Mask`, or the error.
    /// The second value lists the words masked.
    pub fn apply(
        &self,
        text: &str,
        policy: SensitivePolicy,
    ) -> Result<(String, Vec<String>), SensitiveWordsFound> {
        if self.matcher.is_none() {
            return Ok((text.to_string(), Vec::new()));
        }
        let norm = normalize(text);
        let matches = self.matches(&norm);
        if matches.is_empty() {
            return Ok((text.to_string(), Vec::new()));
        }
        let mut words: Vec<String> = Vec::new();
        let mut named = std::collections::HashSet::new();
        for f in self.select(&norm, &matches) {
            if named.insert(f.word.clone()) {
                words.push(f.word);
            }
        }
        match policy {
            SensitivePolicy::Reject => Err(SensitiveWordsFound { words }),
            SensitivePolicy::Mask => Ok((mask(text, &norm, &matches), words)),
        }
    }
}

/// `text` with every match (overlapping ones too) starred. Matches that overlap or touch in
/// the original are merged into one run of stars, one per normalized character.
fn mask(text: &str, norm: &Normalized, matches: &[(usize, usize, usize)]) -> String {
    let mut regions: Vec<(usize, usize)> = Vec::new();
    for &(_, first, end) in matches {
        let (start, end) = norm.original(first, end);
        match regions.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => regions.push((start, end)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in regions {
        // Regions are in order and disjoint; `start >= at` holds, but stay safe.
        let start = start.max(at);
        let end = end.max(start);
        out.push_str(&text[at..start]);
        let from = norm.chars.partition_point(|c| c.start < start);
        let to = norm.chars.partition_point(|c| c.start < end);
        out.extend(std::iter::repeat_n('*', (to - from).max(1)));
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// True when `text` shows nothing: only spaces, control characters (NUL, newlines...) and
/// invisible characters (marks alone, format characters, variation selectors). Such a
/// message body is refused.
pub fn is_blank(text: &str) -> bool {
    let mut blank = true;
    for c in text.chars() {
        decompose_compatible(c, |d| {
            blank &= matches!(class(d), Class::Invisible | Class::Space);
        });
        if !blank {
            return false;
        }
    }
    true
}

/// The normalized view of `text` alone (what sensitive words are matched on, see the module
/// documentation): compatibility forms and widths folded, lower case, invisible characters,
/// spaces, punctuation and symbols left out, look-alikes folded to Latin, traditional Chinese
/// simplified. `ＴＤ。` and ` td ` both give `td`. The opt-out keywords are matched on it.
pub fn view(text: &str) -> String {
    normalize(text).text
}

/// How a character counts in the normalized view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Dropped: not even a boundary.
    Invisible,
    /// White space and control characters: skipped between a word's characters.
    Space,
    /// Punctuation and symbols: skipped between a word's characters.
    Punct,
    /// Kept: letters, digits, and whatever else (private use, unassigned).
    Word,
}

fn class(c: char) -> Class {
    if c.is_ascii_alphanumeric() || is_unified_ideograph(c) {
        return Class::Word;
    }
    if c.is_ascii() {
        return if c == ' ' || c.is_ascii_control() {
            Class::Space
        } else {
            Class::Punct
        };
    }
    if matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}') {
        // Hangul fillers: letters by category, invisible on screen.
        return Class::Invisible;
    }
    if c == '\u{2800}' {
        // The blank Braille pattern: a symbol by category, an empty cell on screen.
        return Class::Space;
    }
    match c.general_category_group() {
        GeneralCategoryGroup::Mark => Class::Invisible,
        GeneralCategoryGroup::Separator => Class::Space,
        GeneralCategoryGroup::Punctuation | GeneralCategoryGroup::Symbol => Class::Punct,
        GeneralCategoryGroup::Other => match c.general_category() {
            GeneralCategory::Format => Class::Invisible,
            GeneralCategory::Control => Class::Space,
            _ => Class::Word,
        },
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number => Class::Word,
    }
}

/// One character of the normalized view.
#[derive(Debug, Clone, Copy)]
struct NormChar {
    c: char,
    /// Byte range in the original text.
    start: usize,
    end: usize,
    /// A separator (space, control, punctuation, symbol) stood between this character and
    /// the previous one.
    gap: bool,
}

/// A normalized text and, for each of its characters, where it came from.
struct Normalized {
    /// The view, for the automaton.
    text: String,
    chars: Vec<NormChar>,
    /// Byte offset in `text` of each character of `chars`.
    offsets: Vec<usize>,
}

impl Normalized {
    /// The index of the character starting at byte `at` of the view.
    fn index_at(&self, at: usize) -> Option<usize> {
        self.offsets.binary_search(&at).ok()
    }

    /// The original byte range covering normalized characters `first..end` (not empty).
    fn original(&self, first: usize, end: usize) -> (usize, usize) {
        let start = self.chars[first].start;
        let end = self.chars[first..end]
            .iter()
            .map(|c| c.end)
            .max()
            .unwrap_or(start);
        (start, end)
    }

    /// The separator rule: a match spread over separators must not be glued to ASCII
    /// letters or digits written right before or after it.
    fn accepts(&self, first: usize, end: usize) -> bool {
        let chars = &self.chars;
        let spread = chars[first + 1..end].iter().any(|c| c.gap);
        if !spread {
            return true;
        }
        let latin = |c: &NormChar| c.c.is_ascii_alphanumeric();
        let glued_before =
            first > 0 && !chars[first].gap && latin(&chars[first]) && latin(&chars[first - 1]);
        let glued_after =
            end < chars.len() && !chars[end].gap && latin(&chars[end - 1]) && latin(&chars[end]);
        !glued_before && !glued_after
    }
}

/// OpenCC's traditional-to-simplified mapping of single characters, built once.
fn simplified(c: char) -> char {
    static TABLE: OnceLock<HashMap<char, char>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        // Every ideograph of the CJK blocks, one per line so that no phrase can match across
        // two of them: the conversion of each line is that character's own.
        let ranges = [
            0x3400..=0x4DBF,
            0x4E00..=0x9FFF,
            0xF900..=0xFAFF,
            0x20000..=0x2EBEF,
        ];
        let all: Vec<char> = ranges
            .into_iter()
            .flatten()
            .filter_map(char::from_u32)
            .collect();
        let mut input = String::with_capacity(all.len() * 5);
        for c in &all {
            input.push(*c);
            input.push('\n');
        }
        let Ok(opencc) =
            ferrous_opencc::OpenCC::from_config(ferrous_opencc::config::BuiltinConfig::T2s)
        else {
            // The configuration is compiled into the crate; this cannot fail at run time.
            return HashMap::new();
        };
        let output = opencc.convert(&input);
        all.iter()
            .zip(output.split('\n'))
            .filter_map(|(&from, to)| {
                let mut to_chars = to.chars();
                match (to_chars.next(), to_chars.next()) {
                    (Some(to), None) if to != from => Some((from, to)),
                    _ => None,
                }
            })
            .collect()
    });
    table.get(&c).copied().unwrap_or(c)
}

/// The CJK unified ideographs of the BMP (and extension A): no decomposition, letters.
fn is_unified_ideograph(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

/// Hangul vowel and final jamo: the only characters left that compose with the one before
/// them once marks are dropped.
fn composes_with_previous(c: char) -> bool {
    matches!(c as u32, 0x1161..=0x1175 | 0x11A8..=0x11C2)
}

/// Ideographs go to the simplified table, never to the confusable skeleton.
fn is_ideograph(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF)
}

/// Hangul syllables, jamo and kana are left as they are.
fn skips_skeleton(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x11FF | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// A word character (already decomposed and lower-cased) as the characters it stands for.
fn fold(c: char, out: &mut Vec<char>) {
    if c.is_ascii() || skips_skeleton(c) {
        out.push(c);
    } else if is_ideograph(c) {
        out.push(simplified(c));
    } else {
        let mut buf = [0u8; 4];
        let skeleton: Vec<char> = unicode_security::skeleton(c.encode_utf8(&mut buf)).collect();
        if !skeleton.is_empty() && skeleton.iter().all(char::is_ascii_alphanumeric) {
            out.extend(skeleton.iter().map(char::to_ascii_lowercase));
        } else {
            out.push(c);
        }
    }
}

/// The kana voicing marks (combining, as NFKD leaves `ガ` or half-width `ｶﾞ`): the only marks
/// kept, composed back onto their kana.
const KANA_VOICING: [char; 2] = ['\u{3099}', '\u{309A}'];

/// The normalized view of `text` (see the module documentation): the one function both the
/// word lists and the messages go through.
fn normalize(text: &str) -> Normalized {
    let mut chars: Vec<NormChar> = Vec::with_capacity(text.len());
    let mut gap = false;
    let mut decomposed: Vec<char> = Vec::with_capacity(4);
    let mut folded: Vec<char> = Vec::with_capacity(4);
    for (start, c) in text.char_indices() {
        let end = start + c.len_utf8();
        decomposed.clear();
        if c.is_ascii() || is_unified_ideograph(c) {
            // No decomposition (the fast path for most messages).
            decomposed.push(c.to_ascii_lowercase());
        } else {
            decompose_compatible(c, |d| decomposed.extend(d.to_lowercase()));
        }
        for &d in &decomposed {
            match class(d) {
                Class::Invisible => {
                    // Belongs to the character before it, unless a separator came between.
                    if let Some(last) = chars.last_mut().filter(|_| !gap) {
                        if let Some(voiced) = KANA_VOICING
                            .contains(&d)
                            .then(|| compose(last.c, d))
                            .flatten()
                        {
                            // カ + ゛ is ガ, another sound and another word: kept.
                            last.c = voiced;
                        }
                        last.end = last.end.max(end);
                    }
                }
                Class::Space | Class::Punct => gap = true,
                Class::Word => {
                    folded.clear();
                    fold(d, &mut folded);
                    for &f in &folded {
                        let composed = chars
                            .last()
                            .filter(|_| !gap && composes_with_previous(f))
                            .and_then(|last| compose(last.c, f));
                        match (composed, chars.last_mut()) {
                            (Some(both), Some(last)) => {
                                last.c = both;
                                last.end = last.end.max(end);
                            }
                            _ => chars.push(NormChar {
                                c: f,
                                start,
                                end,
                                gap,
                            }),
                        }
                        gap = false;
                    }
                }
            }
        }
    }
    let mut out = String::with_capacity(chars.len() * 3);
    let mut offsets = Vec::with_capacity(chars.len());
    for c in &chars {
        offsets.push(out.len());
        out.push(c.c);
    }
    Normalized {
        text: out,
        chars,
        offsets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn filter() -> SensitiveFilter {
        SensitiveFilter::new(["free", "代开发票", "Casino", "赌博", "sex"]).unwrap()
    }

    /// One row per kind of disguise: the text, the word it hides (as listed), and the text
    /// masked. Each is tried inside a sentence, so that only the word is starred.
    const DISGUISES: &[(&str, &str, &str, &str)] = &[
        ("zero-width space", "f\u{200B}ree", "free", "****"),
        ("zero-width joiner", "代\u{200D}开发票", "代开发票", "****"),
        (
            "zero-width non-joiner",
            "ca\u{200C}sino",
            "Casino",
            "******",
        ),
        ("byte order mark", "fr\u{FEFF}ee", "free", "****"),
        ("soft hyphen", "cas\u{AD}ino", "Casino", "******"),
        ("word joiner", "fre\u{2060}e", "free", "****"),
        ("bidi marks", "f\u{200E}r\u{200F}e\u{202A}e", "free", "****"),
        ("Hangul filler", "fr\u{3164}ee", "free", "****"),
        ("tag characters", "赌\u{E0041}博", "赌博", "**"),
        ("spaces", "代 开 发 票", "代开发票", "****"),
        ("spaces, Latin", "f r e e", "free", "****"),
        (
            "ideographic spaces",
            "代\u{3000}开\u{3000}发\u{3000}票",
            "代开发票",
            "****",
        ),
        ("newlines", "代开\n发\r\n票", "代开发票", "****"),
        ("tabs and NUL", "fr\tee\u{0}", "free", "****\u{0}"),
        ("ASCII punctuation", "f.r-e_e", "free", "****"),
        ("CJK punctuation", "代，开。发！票", "代开发票", "****"),
        ("symbols and emoji", "f😀r★e+e", "free", "****"),
        ("traditional characters", "代開發票", "代开发票", "****"),
        ("traditional, one character", "賭博", "赌博", "**"),
        ("Cyrillic look-alikes", "cаsinо", "Casino", "******"),
        ("Cyrillic e", "frее", "free", "****"),
        ("Greek look-alikes", "cαsιnο", "Casino", "******"),
        ("combining accents, precomposed", "fréé", "free", "****"),
        (
            "combining accents, decomposed",
            "fre\u{301}e\u{308}",
            "free",
            "****",
        ),
        (
            "zalgo",
            "f\u{336}r\u{336}e\u{336}e\u{336}\u{337}",
            "free",
            "****",
        ),
        ("mathematical bold", "𝐟𝐫𝐞𝐞", "free", "****"),
        ("mathematical italic", "𝑓𝑟𝑒𝑒", "free", "****"),
        ("circled letters", "ⓕⓡⓔⓔ", "free", "****"),
        ("full-width", "ＦＲＥＥ", "free", "****"),
        ("upper case", "CASINO", "Casino", "******"),
        (
            "variation selectors",
            "f\u{FE0F}r\u{FE0F}e\u{FE0F}e\u{FE0F}",
            "free",
            "****",
        ),
        (
            "variation selectors, CJK",
            "赌\u{FE0E}博\u{E0100}",
            "赌博",
            "**",
        ),
        ("mixed", "Ｆ\u{200B} ｒ.𝐞\u{301}ⓔ", "free", "****"),
        (
            "mixed, Chinese",
            "代 開\u{200B}發，\u{3000}票",
            "代开发票",
            "****",
        ),
    ];

    #[test]
    fn every_disguise_is_caught_and_masked_exactly() {
        let f = filter();
        for &(what, hidden, word, masked) in DISGUISES {
            let text = format!("今天 {hidden} 吧");
            let err = f.apply(&text, SensitivePolicy::Reject).unwrap_err();
            assert_eq!(err.words, [word], "{what}: {text:?}");
            let (out, words) = f.apply(&text, SensitivePolicy::Mask).unwrap();
            assert_eq!(out, format!("今天 {masked} 吧"), "{what}: {text:?}");
            assert_eq!(words, [word], "{what}");
        }
    }

    #[test]
    fn ordinary_notices_are_left_alone() {
        let f = filter();
        for text in [
            "各位同事：本周五下午三点在三楼会议室召开季度总结会，请准时参加。",
            "【物业通知】明天上午9:00-12:00停水，请提前储水。如有疑问请致电 010-12345678。",
            "发票已开具，请代表各部门到财务室领取；开发部本周加班。",
            "请联系代理，开票事宜请找财务。",
            "Reminder: the server maintenance window is Sunday 02:00-04:00 UTC.",
            "Please review its exam results and this example before Friday.",
            "Coffee, tea & free-range eggs? No: fee reeds. Cas in October.",
            "会议改到 3 号楼 302 室，带上笔记本。😀👍🏽 👨‍👩‍👧",
        ] {
            let found = f.find(text);
            // "free-range" holds the word itself, as written: that one is a match.
            let expected: &[&str] = if text.contains("free-range") {
                &["free"]
            } else {
                &[]
            };
            let words: Vec<&str> = found.iter().map(|m| m.word.as_str()).collect();
            assert_eq!(words, expected, "{text}");
        }
    }

    #[test]
    fn separators_are_skipped_only_where_no_latin_word_is_glued_on() {
        let f = filter();
        // Spread over separators but glued to the letters of other words: not a match.
        assert!(f.find("its exam").is_empty());
        assert!(f.find("beef reeds").is_empty());
        // Written whole inside a longer word: a match, as before.
        assert_eq!(f.find("Essex")[0].word, "sex");
        // Spread and standing on its own, or next to Chinese: a match.
        assert_eq!(f.find("去f r e e吧")[0].word, "free");
        assert_eq!(f.find("(s.e.x)")[0].word, "sex");
        // A one-character word matches exactly where it is written.
        let one = SensitiveFilter::new(["赌"]).unwrap();
        let (masked, _) = one.apply("赌 博，赌", SensitivePolicy::Mask).unwrap();
        assert_eq!(masked, "* 博，*");
    }

    #[test]
    fn katakana_and_width_folding_still_hold() {
        assert_eq!(normalize("ｶﾞﾊﾟｳﾞｱ").text, "ガパヴア");
        assert_eq!(normalize("ＡＢＣ１２３　！").text, "abc123");
        let f = SensitiveFilter::new(["赌博", "Casino", "ＶＰＮ", "ガス"]).unwrap();
        let text = "免费CASINO和ｖｐｎ，ｶﾞｽ！";
        let found = f.find(text);
        let words: Vec<_> = found.iter().map(|f| f.word.as_str()).collect();
        assert_eq!(words, ["Casino", "ＶＰＮ", "ガス"]);
        assert_eq!(&text[found[1].start..found[1].end], "ｖｐｎ");
        assert_eq!(&text[found[2].start..found[2].end], "ｶﾞｽ");
    }

    #[test]
    fn reject_names_the_words_and_mask_stars_them() {
        let f = SensitiveFilter::new(["赌博", "casino", "赌博网站"]).unwrap();
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
    fn contrived_lists_never_panic_and_mask_everything() {
        // Two words matching inside one original character (a ligature; the old code
        // sliced backwards here and panicked on `İ` with the words `i` and U+0307).
        let f = SensitiveFilter::new(["f", "i"]).unwrap();
        assert_eq!(f.apply("ﬁx", SensitivePolicy::Mask).unwrap().0, "**x");
        let f = SensitiveFilter::new(["i"]).unwrap();
        assert_eq!(f.apply("İ!", SensitivePolicy::Mask).unwrap().0, "*!");
        // Two words inside one character: both named, the character starred once.
        let f = SensitiveFilter::new(["1", "2"]).unwrap();
        let found = f.find("x½");
        assert_eq!((found[0].start, found[1].start), (1, 1));
        assert_eq!(
            f.apply("x½", SensitivePolicy::Reject).unwrap_err().words,
            ["1", "2"]
        );
        assert_eq!(f.apply("x½", SensitivePolicy::Mask).unwrap().0, "x**");
        // Overlapping words: both covered.
        let f = SensitiveFilter::new(["ab", "bc"]).unwrap();
        assert_eq!(f.apply("xabcx", SensitivePolicy::Mask).unwrap().0, "x***x");
        // Length-changing forms: ẞ lower-cases to ß (3 bytes to 2), ﬃ is three letters.
        let f = SensitiveFilter::new(["ß", "ffi"]).unwrap();
        assert_eq!(
            f.apply("ẞ和ﬃ和ß", SensitivePolicy::Mask).unwrap().0,
            "*和***和*"
        );
        // Hangul: a syllable matches its decomposed jamo, never part of another syllable.
        let f = SensitiveFilter::new(["한"]).unwrap();
        assert_eq!(
            f.apply("\u{1112}\u{1161}\u{11AB}", SensitivePolicy::Mask)
                .unwrap()
                .0,
            "*"
        );
        let f = SensitiveFilter::new(["하"]).unwrap();
        assert!(f.find("한국").is_empty());
        assert_eq!(f.find("하나").len(), 1);
    }

    #[test]
    fn a_word_empty_once_normalized_is_an_error_with_its_place() {
        for word in ["\u{307}", "\u{200B}", "👨\u{200D}👩", "!!!", "\u{FE0F}"] {
            let e = SensitiveFilter::new(["ok", word]).unwrap_err();
            assert_eq!(
                e,
                WordListError::EmptyWord {
                    origin: "word 2".into(),
                    word: word.into()
                }
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("words.txt");
        std::fs::write(&list, "# list\n赌博\n\n\u{200B}\u{200D}\n").unwrap();
        let e = SensitiveFilter::from_files(&[&list]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:4: the sensitive word \"\\u{{200b}}\\u{{200d}}\" is empty once normalized \
                 (only spaces, punctuation, symbols or invisible characters); write the word \
                 itself or remove the line",
                list.display()
            )
        );
    }

    #[test]
    fn blank_means_nothing_visible() {
        for text in [
            "",
            " ",
            "\u{3000}\n\t",
            "\u{0}\u{0}",
            "\u{200B}\u{FEFF}\u{200D}",
            "\u{FE0F}\u{301}",
        ] {
            assert!(is_blank(text), "{text:?}");
        }
        for text in ["a", "。", "😀", "\u{200B}x"] {
            assert!(!is_blank(text), "{text:?}");
        }
    }

    #[test]
    fn lists_skip_comments_and_blanks() {
        let words = SensitiveFilter::parse_list("# banned\n\n 赌博 \n#x\ncasino\r\n");
        assert_eq!(words, [(3, "赌博".to_string()), (5, "casino".to_string())]);
        assert!(SensitiveFilter::new(Vec::<String>::new())
            .unwrap()
            .is_empty());
        assert_eq!(
            SensitiveFilter::new(["abc", "ＡＢＣ", "a b c"])
                .unwrap()
                .len(),
            1
        );
        assert_eq!("MASK".parse(), Ok(SensitivePolicy::Mask));
        assert!("drop".parse::<SensitivePolicy>().is_err());
    }

    /// Characters inserted between a word's characters by the property test.
    const INSERTS: &[char] = &[
        ' ',
        '\u{3000}',
        '\n',
        '.',
        '，',
        '-',
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{FEFF}',
        '\u{AD}',
        '\u{2060}',
        '\u{FE0F}',
        '\u{FE0E}',
        '\u{E0100}',
        '\u{0}',
        '😀',
    ];

    proptest! {
        #[test]
        fn a_disguised_word_is_always_caught_and_fully_masked(
            word in proptest::collection::vec(
                proptest::sample::select(vec!['a', 'b', 'c', 'Q', '赌', '博', '代', '開']), 2..6),
            inserts in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(INSERTS.to_vec()), 0..3), 6),
            before in "[0-9xyz中文 ]{0,6}",
            after in "[0-9xyz中文 ]{0,6}",
        ) {
            let listed: String = word.iter().collect();
            let f = SensitiveFilter::new([&listed]).unwrap();
            let mut hidden = String::new();
            for (i, c) in word.iter().enumerate() {
                if i > 0 {
                    hidden.extend(&inserts[i - 1]);
                }
                hidden.push(*c);
            }
            let text = format!("{before} {hidden} {after}");
            let err = f.apply(&text, SensitivePolicy::Reject).unwrap_err();
            prop_assert_eq!(err.words, vec![listed.clone()]);
            let (masked, _) = f.apply(&text, SensitivePolicy::Mask).unwrap();
            let stars = "*".repeat(word.len());
            prop_assert_eq!(&masked, &format!("{before} {stars} {after}"));
            let visible: Vec<char> = normalize(&masked).chars.iter().map(|c| c.c).collect();
            let letters: Vec<char> = normalize(&listed).chars.iter().map(|c| c.c).collect();
            prop_assert!(visible.iter().all(|c| !letters.contains(c)));
        }

        #[test]
        fn any_list_and_text_never_panic(
            words in proptest::collection::vec("\\PC{0,4}", 0..6),
            text in "\\PC{0,40}",
        ) {
            if let Ok(f) = SensitiveFilter::new(&words) {
                for m in f.find(&text) {
                    prop_assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
                    prop_assert!(m.start < m.end);
                }
                let _ = f.apply(&text, SensitivePolicy::Mask);
                let _ = f.apply(&text, SensitivePolicy::Reject);
            }
        }
    }
}
