//! Bulk import of members from CSV. The first line names the columns: `handle`, `name` and
//! `phone` are required; `group`, `role` (`super_admin`, `admin`, `member`; default member)
//! and `opt_out` (`yes`/`no`, `true`/`false`, `1`/`0`) are optional and add or change the
//! member's place in that group, which must exist; `uid` (optional) binds the member to that
//! Unix user, as `member add --uid` does (an empty cell leaves the binding alone). A member
//! already in the database is updated. Names and phone numbers follow the rules of
//! `member add` ([`fields`]). Every row is checked first: if any is bad, nothing is imported
//! (unless `skip_bad`), and each bad row is reported with its line number.
//!
//! A file too big for one request arrives in pieces ([`StagedCsv`]): the pieces are kept,
//! bounded by [`fields::MAX_IMPORT_ROWS`] and [`fields::MAX_IMPORT_BYTES`], and read as one
//! file when the import is committed.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use chrono::{DateTime, Utc};

use super::phone::normalize;
use super::{fields, ServiceError, Settings};
use crate::store::{
    check_handle, cut, GroupId, MemberChange, NewAudit, NewMember, Role, Store, StoreError, Tx,
};

/// Options for [`import_members_csv`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the good rows even when some are bad (the bad ones are reported).
    pub skip_bad: bool,
    /// Do everything, then roll it back: the report says what the import would do.
    pub dry_run: bool,
}

/// Why the import's transaction ends without a commit: a refusal, or a dry run's report.
enum Rollback {
    Refused(ServiceError),
    DryRun(ImportReport),
}

impl From<ServiceError> for Rollback {
    fn from(e: ServiceError) -> Self {
        Rollback::Refused(e)
    }
}

impl From<StoreError> for Rollback {
    fn from(e: StoreError) -> Self {
        Rollback::Refused(e.into())
    }
}

impl From<ImportError> for Rollback {
    fn from(e: ImportError) -> Self {
        Rollback::Refused(e.into())
    }
}

/// A row that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Line of the file the row starts on, counting the header as line 1.
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Bad rows an answer or an error names one by one; the others are counted. A CSV of 64 KiB
/// can hold tens of thousands of bad rows, and their answer must fit in one protocol line.
pub const MAX_BAD_ROWS_SHOWN: usize = 32;
/// Longest reason shown for a bad row, in bytes (then `…`): a reason may quote the field.
pub const MAX_REASON_SHOWN: usize = 160;

/// The bad rows an answer names: the first [`MAX_BAD_ROWS_SHOWN`], each reason cut to
/// [`MAX_REASON_SHOWN`] bytes.
pub fn shown(rows: &[BadRow]) -> impl Iterator<Item = BadRow> + '_ {
    rows.iter().take(MAX_BAD_ROWS_SHOWN).map(|r| BadRow {
        line: r.line,
        reason: cut(&r.reason, MAX_REASON_SHOWN).into_owned(),
    })
}

fn listed(rows: &[BadRow]) -> String {
    let mut lines: Vec<String> = shown(rows).map(|r| format!("  {r}")).collect();
    if rows.len() > MAX_BAD_ROWS_SHOWN {
        lines.push(format!("  … and {} more", rows.len() - MAX_BAD_ROWS_SHOWN));
    }
    lines.join("\n")
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub members_created: u32,
    pub members_updated: u32,
    pub members_unchanged: u32,
    pub memberships_added: u32,
    pub memberships_changed: u32,
    /// Bad rows left out (only with `skip_bad`); answers name the first ones ([`shown`]).
    pub skipped: Vec<BadRow>,
    /// A dry run's first [`MAX_BAD_ROWS_SHOWN`] good rows and what each does (empty when
    /// the import is written: its counts say it).
    pub rows: Vec<RowOutcome>,
}

/// What one good row of a dry run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowOutcome {
    pub line: u64,
    pub member: String,
    /// `created`, `updated` or `unchanged`.
    pub change: &'static str,
    /// The group the row places the member in, and `added`, `changed` or `unchanged`.
    pub membership: Option<(String, &'static str)>,
}

/// The import was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the CSV file: {0}")]
    Read(String),
    #[error("bad CSV header: {0}")]
    Header(String),
    #[error(
        "{} bad row{}, nothing was imported (skip bad rows to import the others):\n{}",
        .0.len(),
        if .0.len() == 1 { "" } else { "s" },
        listed(.0)
    )]
    BadRows(Vec<BadRow>),
    #[error(
        "the CSV has more than {max} rows, at most {max} may be imported at once: split the file"
    )]
    TooManyRows { max: u64 },
    #[error(
        "the CSV is larger than {} MiB, at most that may be imported at once: split the file",
        .max / (1024 * 1024)
    )]
    TooBig { max: u64 },
}

/// A CSV received in pieces, kept until the import is committed: its text so far and how
/// many rows it holds, both bounded ([`fields::MAX_IMPORT_ROWS`], [`fields::MAX_IMPORT_BYTES`]).
#[derive(Debug, Default)]
pub struct StagedCsv {
    text: String,
    /// Line ends outside quoted fields so far (the header's included).
    records: u64,
    in_quotes: bool,
}

impl StagedCsv {
    /// Appends the next piece; refused (and nothing of it kept) past the bounds.
    pub fn push(&mut self, piece: &str) -> Result<(), ImportError> {
        let max_bytes = fields::MAX_IMPORT_BYTES;
        if (self.text.len() + piece.len()) as u64 > max_bytes {
            return Err(ImportError::TooBig { max: max_bytes });
        }
        let (mut records, mut in_quotes) = (self.records, self.in_quotes);
        for b in piece.bytes() {
            match b {
                b'"' => in_quotes = !in_quotes,
                b'\n' if !in_quotes => records += 1,
                _ => {}
            }
        }
        if records.saturating_sub(1) > fields::MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows {
                max: fields::MAX_IMPORT_ROWS,
            });
        }
        self.records = records;
        self.in_quotes = in_quotes;
        self.text.push_str(piece);
        Ok(())
    }

    /// Rows complete so far, the header not counted (blank lines counted).
    pub fn rows(&self) -> u64 {
        self.records.saturating_sub(1)
    }

    pub fn bytes(&self) -> u64 {
        self.text.len() as u64
    }

    /// The whole CSV text.
    pub fn into_text(self) -> String {
        self.text
    }
}

const COLUMNS: [&str; 7] = ["handle", "name", "phone", "group", "role", "opt_out", "uid"];
const UID: usize = 6;

struct Columns {
    at: [Option<usize>; 7],
}

impl Columns {
    fn parse(header: &csv::StringRecord) -> Result<Columns, ImportError> {
        let mut at = [None; 7];
        for (i, name) in header.iter().enumerate() {
            let key = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
            let key = if key == "optout" || key == "opted_out" {
                "opt_out".to_string()
            } else {
                key
            };
            let Some(col) = COLUMNS.iter().position(|c| *c == key) else {
                return Err(ImportError::Header(format!(
                    "unknown column '{name}' (the columns are {})",
                    COLUMNS.join(", ")
                )));
            };
            if at[col].replace(i).is_some() {
                return Err(ImportError::Header(format!(
                    "the column '{}' appears twice",
                    COLUMNS[col]
                )));
            }
        }
        for required in 0..3 {
            if at[required].is_none() {
                return Err(ImportError::Header(format!(
                    "there is no '{}' column (handle, name and phone are required)",
                    COLUMNS[required]
                )));
            }
        }
        Ok(Columns { at })
    }

    fn get<'r>(&self, rec: &'r csv::StringRecord, col: usize) -> &'r str {
        self.at[col].and_then(|i| rec.get(i)).unwrap_or("").trim()
    }
}

struct Row {
    line: u64,
    member: NewMember,
    place: Option<Place>,
}

struct Place {
    group: String,
    role: Option<Role>,
    opt_out: Option<bool>,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "是" => Some(true),
        "0" | "no" | "n" | "false" | "否" => Some(false),
        _ => None,
    }
}

/// A row as read: the member and where it goes, or why the row is refused.
type Parsed = Result<(NewMember, Option<Place>), String>;

/// What a row says, checked on its own (no database): the work of reading a file, done before
/// its transaction so that the transaction runs its statements back to back (on PostgreSQL a
/// session idle inside a transaction for long is taken for a paused daemon and ended).
fn parse_row(settings: &Settings, cols: &Columns, rec: &csv::StringRecord) -> Parsed {
    let handle = cols.get(rec, 0);
    check_handle(handle).map_err(|e| e.to_string())?;
    let name = cols.get(rec, 1);
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    let raw = cols.get(rec, 2);
    fields::new_member(&NewMember::new(handle, name, raw)).map_err(|e| e.to_string())?;
    let phone = normalize(raw, settings.default_country).map_err(|e| {
        if raw.is_empty() {
            e.to_string()
        } else {
            format!("phone '{raw}': {e}")
        }
    })?;
    let (group, role, opt_out) = (cols.get(rec, 3), cols.get(rec, 4), cols.get(rec, 5));
    let role = match role {
        "" => None,
        r => Some(r.parse::<Role>().map_err(|e| e.to_string())?),
    };
    let opt_out = match opt_out {
        "" => None,
        v => Some(
            parse_bool(v)
                .ok_or_else(|| format!("opt_out '{v}' is not yes/no, true/false or 1/0"))?,
        ),
    };
    let place = if group.is_empty() {
        if role.is_some() || opt_out.is_some() {
            return Err("a role or opt_out is given without a group".into());
        }
        None
    } else {
        Some(Place {
            group: group.to_string(),
            role,
            opt_out,
        })
    };
    let uid = match cols.get(rec, UID) {
        "" => None,
        v => Some(
            v.parse::<u32>()
                .map_err(|_| format!("uid '{v}' is not a Unix user id (a number)"))?,
        ),
    };
    let mut member = NewMember::new(handle, name, phone);
    member.unix_uid = uid;
    Ok((member, place))
}

/// What a parsed row asks of the database: its group exists, its uid is not another member's.
fn check_row(
    tx: &Tx<'_>,
    member: &NewMember,
    place: Option<&Place>,
    known_groups: &mut HashMap<String, bool>,
) -> Result<(), String> {
    if let Some(place) = place {
        let group = place.group.as_str();
        let exists = match known_groups.get(group) {
            Some(exists) => *exists,
            None => {
                let exists = tx.group_id(group).map_err(|e| e.to_string())?.is_some();
                known_groups.insert(group.to_string(), exists);
                exists
            }
        };
        if !exists {
            return Err(format!("there is no group with the handle '{group}'"));
        }
    }
    if let Some(uid) = member.unix_uid {
        if let Some(owner) = tx.member_by_uid(uid).map_err(|e| e.to_string())? {
            if owner.handle != member.handle {
                return Err(format!(
                    "uid {uid} is already bound to member '{}'",
                    owner.handle
                ));
            }
        }
    }
    Ok(())
}

/// Imports members (and memberships) from CSV in one transaction, on behalf of `actor`.
/// `inner` with every CR LF read as LF. The CSV reader takes CRLF as a line end, but counts a
/// record's line before the LF of the CRLF it stopped at, so every bad row of a file saved by
/// Excel or another Windows program was reported one line early. A CR alone stays.
struct CrlfAsLf<R> {
    inner: R,
    /// Read from `inner`, CRLFs made LFs; `buf[pos..]` not handed out yet.
    buf: Vec<u8>,
    pos: usize,
    /// The last byte read was a CR: whether it is kept depends on the next one.
    held_cr: bool,
}

impl<R: Read> CrlfAsLf<R> {
    fn new(inner: R) -> Self {
        CrlfAsLf {
            inner,
            buf: Vec::with_capacity(8192),
            pos: 0,
            held_cr: false,
        }
    }

    /// Reads the next chunk into `buf`; `false` at the end of the input.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 8192];
        loop {
            let got = self.inner.read(&mut chunk)?;
            self.buf.clear();
            self.pos = 0;
            if got == 0 {
                if std::mem::take(&mut self.held_cr) {
                    self.buf.push(b'\r');
                    return Ok(true);
                }
                return Ok(false);
            }
            let mut bytes = chunk[..got].iter().copied().peekable();
            if std::mem::take(&mut self.held_cr) && bytes.peek() != Some(&b'\n') {
                self.buf.push(b'\r');
            }
            while let Some(b) = bytes.next() {
                if b == b'\r' {
                    match bytes.peek() {
                        Some(b'\n') => continue,
                        None => {
                            self.held_cr = true;
                            continue;
                        }
                        Some(_) => {}
                    }
                }
                self.buf.push(b);
            }
            if !self.buf.is_empty() {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Read for CrlfAsLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() && !self.fill()? {
            return Ok(0);
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

pub fn import_members_csv(
    store: &mut Store,
    settings: &Settings,
    actor: &str,
    input: impl Read,
    options: ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport, ServiceError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(CrlfAsLf::new(input));
    let header = reader
        .headers()
        .map_err(|e| ImportError::Read(e.to_string()))?
        .clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(ImportError::Header(
            "the file is empty; its first line must name the columns".into(),
        )
        .into());
    }
    let cols = Columns::parse(&header)?;

    // Every row read and checked on its own first, in the file's order: the transaction below
    // then runs its statements back to back.
    let mut parsed: Vec<(u64, Parsed)> = Vec::new();
    for (n, rec) in reader.records().enumerate() {
        if n as u64 >= fields::MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows {
                max: fields::MAX_IMPORT_ROWS,
            }
            .into());
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let b = csv_bad_row(&e);
                parsed.push((b.line, Err(b.reason)));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue; // a blank line
        }
        parsed.push((line, parse_row(settings, &cols, &rec)));
    }

    // A dry run writes as the import would, in the same transaction, and rolls it back: its
    // counts are the import's own, not a second reckoning that could drift from it.
    let done = store.write(|tx| -> Result<ImportReport, Rollback> {
        let mut good: Vec<Row> = Vec::new();
        let mut bad: Vec<BadRow> = Vec::new();
        let mut first_seen: HashMap<String, (u64, String, String, Option<u32>)> = HashMap::new();
        // Which handle each uid of the file goes to, and on which line first.
        let mut uids: HashMap<u32, (u64, String)> = HashMap::new();
        let mut known_groups: HashMap<String, bool> = HashMap::new();
        for (line, row) in parsed {
            let row = row.and_then(|(member, place)| {
                check_row(tx, &member, place.as_ref(), &mut known_groups).map(|()| (member, place))
            });
            match row {
                Ok((member, place)) => {
                    if let Some(uid) = member.unix_uid {
                        match uids.get(&uid) {
                            Some((at, other)) if *other != member.handle => {
                                bad.push(BadRow {
                                    line,
                                    reason: format!(
                                        "uid {uid} is already given to member '{other}' on line {at}"
                                    ),
                                });
                                continue;
                            }
                            Some(_) => {}
                            None => {
                                uids.insert(uid, (line, member.handle.clone()));
                            }
                        }
                    }
                    if let Some((at, name, phone, uid)) = first_seen.get_mut(&member.handle) {
                        let other_uid = matches!(
                            (*uid, member.unix_uid),
                            (Some(a), Some(b)) if a != b
                        );
                        if *name != member.name || *phone != member.phone || other_uid {
                            bad.push(BadRow {
                                line,
                                reason: format!(
                                    "member '{}' is already on line {at} with another name, \
                                     phone or uid",
                                    member.handle
                                ),
                            });
                            continue;
                        }
                        if uid.is_none() {
                            *uid = member.unix_uid;
                        }
                    } else {
                        first_seen.insert(
                            member.handle.clone(),
                            (
                                line,
                                member.name.clone(),
                                member.phone.clone(),
                                member.unix_uid,
                            ),
                        );
                    }
                    good.push(Row {
                        line,
                        member,
                        place,
                    });
                }
                Err(reason) => bad.push(BadRow { line, reason }),
            }
        }
        if !bad.is_empty() && !options.skip_bad {
            return Err(ImportError::BadRows(bad).into());
        }
        let mut report = ImportReport {
            skipped: bad,
            ..ImportReport::default()
        };
        let mut touched: HashMap<String, ()> = HashMap::new();
        let mut groups = HashMap::new();
        for row in good {
            apply_row(tx, &row, now, &mut report, &mut touched, &mut groups).map_err(|e| {
                ServiceError::from(ImportError::BadRows(vec![BadRow {
                    line: row.line,
                    reason: e.to_string(),
                }]))
            })?;
        }
        tx.audit(
            &NewAudit {
                actor: actor.to_string(),
                action: "import_members".into(),
                subject: "members".into(),
                detail: format!(
                    "imported members from CSV: {} created, {} updated, {} unchanged, \
                     {} memberships added, {} changed, {} bad rows skipped",
                    report.members_created,
                    report.members_updated,
                    report.members_unchanged,
                    report.memberships_added,
                    report.memberships_changed,
                    report.skipped.len()
                ),
            },
            now,
        )?;
        if options.dry_run {
            return Err(Rollback::DryRun(report));
        }
        report.rows.clear();
        Ok(report)
    });
    match done {
        Ok(report) | Err(Rollback::DryRun(report)) => Ok(report),
        Err(Rollback::Refused(e)) => Err(e),
    }
}

fn csv_bad_row(e: &csv::Error) -> BadRow {
    let line = e.position().map_or(0, |p| p.line());
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    BadRow { line, reason }
}

fn apply_row(
    tx: &Tx<'_>,
    row: &Row,
    now: DateTime<Utc>,
    report: &mut ImportReport,
    touched: &mut HashMap<String, ()>,
    groups: &mut HashMap<String, GroupId>,
) -> Result<(), StoreError> {
    let m = &row.member;
    let first_time = touched.insert(m.handle.clone(), ()).is_none();
    let mut what = "unchanged";
    let member = match tx.member(&m.handle)? {
        None => {
            report.members_created += 1;
            what = "created";
            tx.create_member(m, now)?
        }
        Some(existing) if first_time => {
            let rebind = m.unix_uid.is_some() && existing.unix_uid != m.unix_uid;
            if existing.name != m.name || existing.phone != m.phone || rebind {
                let change = MemberChange {
                    name: Some(m.name.clone()),
                    phone: Some(m.phone.clone()),
                    unix_uid: rebind.then_some(m.unix_uid),
                    ..MemberChange::default()
                };
                report.members_updated += 1;
                what = "updated";
                tx.update_member(&m.handle, &change)?
            } else {
                report.members_unchanged += 1;
                existing
            }
        }
        // A later line for a member this file already created or updated: only a uid the
        // earlier lines left out is new.
        Some(existing) => {
            if m.unix_uid.is_some() && existing.unix_uid.is_none() {
                let change = MemberChange {
                    unix_uid: Some(m.unix_uid),
                    ..MemberChange::default()
                };
                tx.update_member(&m.handle, &change)?
            } else {
                existing
            }
        }
    };
    // What the row does, for a dry run's answer (the first rows only).
    let mut outcome = (report.rows.len() < MAX_BAD_ROWS_SHOWN).then(|| RowOutcome {
        line: row.line,
        member: m.handle.clone(),
        change: what,
        membership: None,
    });
    let Some(place) = &row.place else {
        report.rows.extend(outcome);
        return Ok(());
    };
    let group = match groups.get(&place.group) {
        Some(id) => *id,
        None => {
            let id = tx
                .group_id(&place.group)?
                .ok_or_else(|| StoreError::UnknownGroup(place.group.clone()))?;
            groups.insert(place.group.clone(), id);
            id
        }
    };
    match tx.membership(group, member.id)? {
        None => {
            tx.join(
                &place.group,
                &m.handle,
                place.role.unwrap_or(Role::Member),
                now,
            )?;
            if place.opt_out == Some(true) {
                tx.set_opt_out(&place.group, &m.handle, true)?;
            }
            report.memberships_added += 1;
            if let Some(o) = &mut outcome {
                o.membership = Some((place.group.clone(), "added"));
            }
        }
        Some(ms) => {
            let mut changed = false;
            if let Some(role) = place.role.filter(|r| *r != ms.role) {
                tx.set_role(&place.group, &m.handle, role)?;
                changed = true;
            }
            if let Some(o) = place.opt_out.filter(|o| *o != ms.opted_out) {
                tx.set_opt_out(&place.group, &m.handle, o)?;
                changed = true;
            }
            if changed {
                report.memberships_changed += 1;
            }
            if let Some(o) = &mut outcome {
                let how = if changed { "changed" } else { "unchanged" };
                o.membership = Some((place.group.clone(), how));
            }
        }
    }
    report.rows.extend(outcome);
    Ok(())
}

#[cfg(test)]
mod crlf_tests {
    use std::io::Read;

    use super::CrlfAsLf;

    /// Reads `input` through the adapter in reads of `step` bytes from a source that hands out
    /// `chunk` bytes at a time.
    fn through(input: &[u8], chunk: usize, step: usize) -> Vec<u8> {
        struct Dribble<'a>(&'a [u8], usize);
        impl Read for Dribble<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = CrlfAsLf::new(Dribble(input, chunk));
        let mut out = Vec::new();
        let mut buf = vec![0u8; step];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn crlf_becomes_lf_whatever_the_chunks_and_a_lone_cr_stays() {
        let input = b"a,b\r\n1,2\r\n\r\nx\ry\r\r\n\r";
        let want = b"a,b\n1,2\n\nx\ry\r\n\r";
        for chunk in 1..=input.len() {
            for step in [1, 2, 3, 64] {
                assert_eq!(
                    through(input, chunk, step),
                    want,
                    "chunk {chunk}, step {step}"
                );
            }
        }
    }
}
