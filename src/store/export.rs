//! CSV export of complaint records, for supervisors and the station's own registers.
//!
//! Is: one header row, then one row per record, times as RFC 3339 in the desk's zone. Is
//! not: a report; no totals, no history. Free text that a spreadsheet would take for a
//! formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`, because these files are
//! opened in spreadsheets and the text came from the public. The byte-order mark that
//! callers put first by default (`BYTE_ORDER_MARK`) is what makes Excel read the file as
//! UTF-8 rather than as the Windows code page, which garbles every Hindi name.

use std::io::Write;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::model::Complaint;
use super::StoreError;

/// UTF-8's byte-order mark: written before the header row, it tells Excel (which the
/// offices open these files in) that the file is UTF-8. Other readers (the `csv` crate,
/// LibreOffice, Python's `utf-8-sig`) skip it.
pub const BYTE_ORDER_MARK: &[u8] = "\u{feff}".as_bytes();

pub(super) const HEADER: [&str; 24] = [
    "reference",
    "id",
    "desk",
    "channel",
    "created_at",
    "name",
    "mobile",
    "area",
    "category",
    "description",
    "language",
    "disposition",
    "status",
    "offered_at",
    "answered_at",
    "ended_at",
    "wait_secs",
    "talk_secs",
    "officer_name",
    "outcome_category",
    "outcome_station",
    "outcome_action",
    "outcome_notes",
    "updated_at",
];

pub(super) struct CsvOut<W: Write> {
    w: csv::Writer<W>,
    tz: TimeZone,
    rows: usize,
}

fn csv_err(e: csv::Error) -> StoreError {
    StoreError::Export(e.to_string())
}

/// Neutralises spreadsheet formulas in free text.
fn text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

impl<W: Write> CsvOut<W> {
    pub fn new(out: W, tz: &TimeZone) -> Result<Self, StoreError> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(HEADER).map_err(csv_err)?;
        Ok(CsvOut {
            w,
            tz: tz.clone(),
            rows: 0,
        })
    }

    fn time(&self, t: Timestamp) -> String {
        t.display_with_offset(self.tz.to_offset(t)).to_string()
    }

    fn opt_time(&self, t: Option<Timestamp>) -> String {
        t.map(|t| self.time(t)).unwrap_or_default()
    }

    pub fn row(&mut self, c: &Complaint) -> Result<(), StoreError> {
        let o = c.outcome.clone().unwrap_or_default();
        let opt_num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        let record: [String; 24] = [
            c.reference.to_string(),
            c.id.to_string(),
            c.desk.to_string(),
            c.channel.to_string(),
            self.time(c.created_at),
            text(&c.intake.name),
            c.intake.mobile.to_string(),
            text(&c.intake.area),
            text(&c.intake.category),
            text(&c.intake.description),
            c.intake.language.code().to_owned(),
            c.disposition.to_string(),
            c.status.to_string(),
            self.opt_time(c.offered_at),
            self.opt_time(c.answered_at),
            self.opt_time(c.ended_at),
            opt_num(c.wait_secs),
            opt_num(c.talk_secs),
            text(c.officer_name.as_deref().unwrap_or_default()),
            text(&o.category),
            text(&o.station),
            text(&o.action),
            text(&o.notes),
            self.time(c.updated_at),
        ];
        self.w.write_record(&record).map_err(csv_err)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes and returns the number of records written (the header not counted).
    pub fn finish(mut self) -> Result<usize, StoreError> {
        self.w
            .flush()
            .map_err(|e| StoreError::Export(e.to_string()))?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn formulas_are_neutralised_and_other_text_kept() {
        assert_eq!(text("=1+1"), "'=1+1");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("-2"), "'-2");
        assert_eq!(text("राम, \"x\"\n"), "राम, \"x\"\n");
        assert_eq!(text(""), "");
    }
}
