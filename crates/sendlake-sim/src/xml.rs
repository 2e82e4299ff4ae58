//! Streams [`Person`] records as SEN2 XML, element order exactly as the XSD's
//! `xs:sequence`s, and counts what it writes.

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{Datelike, NaiveDate};
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::Sen2Counts;
use crate::calendar::{Period, shift};
use crate::config::Sen2Format;
use crate::model::{ActivePlan, Assessment, NamedPlan, Person, Placement, Request, Setting};

/// Share of booleans written as `true`/`false` instead of `1`/`0`: LA exports mostly use
/// digits, but the XSD allows words and readers must cope with both.
const P_WORD_BOOLEANS: f64 = 0.02;

pub(crate) struct Sen2Writer<W: Write> {
    xml: Writer<W>,
    /// Presentation choices only (boolean spelling); kept apart from the content stream so
    /// that formatting never shifts the simulated data.
    style: ChaCha8Rng,
    format: Sen2Format,
    scratch: String,
    counts: Sen2Counts,
}

impl<W: Write> Sen2Writer<W> {
    pub(crate) fn new(out: W, format: Sen2Format, style: ChaCha8Rng) -> Self {
        Self {
            xml: Writer::new_with_indent(out, b'\t', 1),
            style,
            format,
            scratch: String::with_capacity(32),
            counts: Sen2Counts::default(),
        }
    }

    /// XML declaration, `Header`, and the opening `Persons` tag.
    pub(crate) fn begin(&mut self, la_code: u16, period: &Period) -> io::Result<()> {
        self.xml
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        self.open("Message")?;
        self.open("Header")?;
        self.open("CollectionDetails")?;
        self.text("Collection", "SEN2")?;
        self.number("Year", period.census.year(), 4)?;
        self.date("ReferenceDate", period.census)?;
        self.close("CollectionDetails")?;
        self.open("Source")?;
        self.text("SourceLevel", "L")?;
        self.number("LEA", la_code, 3)?;
        self.text("SoftwareCode", "sendlake-sim")?;
        self.text("Release", env!("CARGO_PKG_VERSION"))?;
        self.text("SerialNo", "001")?;
        // A fixed "extract time" four weeks after census day keeps files reproducible.
        self.scratch.clear();
        push_date(&mut self.scratch, shift(period.census, 28));
        self.scratch.push_str("T09:30:00");
        write_leaf(&mut self.xml, "DateTime", &self.scratch)?;
        // DMO/DCO are still mandatory in the XSD; vary them a little by LA.
        let (dmo, dco) = match la_code % 7 {
            0 => ("N", "Y"),
            3 => ("Y", "R"),
            _ => ("Y", "Y"),
        };
        self.text("DMO", dmo)?;
        self.text("DCO", dco)?;
        self.close("Source")?;
        self.close("Header")?;
        self.open("Persons")
    }

    /// Closes the document and hands back the writer and the counts.
    pub(crate) fn finish(mut self) -> io::Result<(W, Sen2Counts)> {
        self.close("Persons")?;
        self.close("Message")?;
        let mut out = self.xml.into_inner();
        out.write_all(b"\n")?;
        Ok((out, self.counts))
    }

    pub(crate) fn person(&mut self, p: &Person) -> io::Result<()> {
        self.counts.persons += 1;
        self.open("Person")?;
        self.text("Surname", &p.surname)?;
        self.text("Forename", &p.forename)?;
        self.date("PersonBirthDate", p.birth)?;
        self.text("Sex", p.sex)?;
        self.text("Ethnicity", p.ethnicity)?;
        self.text("PostCode", &p.postcode)?;
        if let Some(upn) = &p.upn {
            self.text("UPN", upn)?;
        }
        if let Some(uln) = &p.uln {
            self.text("UniqueLearnerNumber", uln)?;
        }
        if let Some(unknown) = p.upn_unknown {
            self.text("UPNunknown", unknown)?;
        }
        for r in &p.requests {
            self.request(r)?;
        }
        self.close("Person")
    }

    fn request(&mut self, r: &Request) -> io::Result<()> {
        self.counts.requests += 1;
        self.open("Requests")?;
        self.opt_date("ReceivedDate", r.received)?;
        if self.format == Sen2Format::V2026 {
            self.number("RequestSource", r.source, 1)?;
        }
        self.opt_flag("RYA", r.rya)?;
        if let (true, Some(rya)) = (r.rya_repeated, r.rya) {
            // Written without the style stream, so the spelling of every later boolean is
            // the same as without the defect.
            self.text("RYA", if rya { "0" } else { "1" })?;
        }
        self.opt_date("RequestOutcomeDate", r.outcome_date)?;
        self.text("RequestOutcome", r.outcome)?;
        self.opt_flag("RequestMediation", r.mediation)?;
        self.opt_flag("RequestTribunal", r.tribunal)?;
        if let Some(la) = r.exported {
            self.number("Exported", la, 3)?;
        }
        if let Some(a) = &r.assessment {
            self.assessment(a)?;
        }
        if let Some(active) = &r.active {
            self.active_plan(active)?;
        }
        self.close("Requests")
    }

    fn assessment(&mut self, a: &Assessment) -> io::Result<()> {
        self.counts.assessments += 1;
        self.open("Assessment")?;
        self.text("AssessmentOutcome", a.outcome)?;
        self.opt_date("AssessmentOutcomeDate", a.outcome_date)?;
        if let Some([mediation, tribunal, other_mediation, other_tribunal]) = a.flags {
            self.flag("AssessmentMediation", mediation)?;
            self.flag("AssessmentTribunal", tribunal)?;
            self.flag("OtherMediation", other_mediation)?;
            self.flag("OtherTribunal", other_tribunal)?;
        }
        self.opt_flag("Week20", a.week20)?;
        if let Some(plan) = &a.plan {
            self.named_plan(plan)?;
        }
        self.close("Assessment")
    }

    fn named_plan(&mut self, plan: &NamedPlan) -> io::Result<()> {
        self.counts.named_plans += 1;
        self.open("NamedPlan")?;
        self.date("StartDate", plan.start)?;
        for (rank, detail) in (1u8..).zip(&plan.details) {
            self.counts.plan_details += 1;
            self.open("PlanDetail")?;
            self.setting_head(detail, rank, true)?;
            self.setting_flags(detail)?;
            self.close("PlanDetail")?;
        }
        self.opt_text("PlanRes", plan.res)?;
        self.opt_text("PlanWBP", plan.wbp)?;
        self.opt_flag("PB", plan.pb)?;
        self.opt_flag("OA", plan.oa)?;
        self.opt_text("DP", plan.dp)?;
        self.opt_date("CeaseDate", plan.cease_date)?;
        if let Some(reason) = plan.cease_reason {
            self.number("CeaseReason", reason, 1)?;
        }
        self.close("NamedPlan")
    }

    fn active_plan(&mut self, a: &ActivePlan) -> io::Result<()> {
        self.counts.active_plans += 1;
        self.open("ActivePlans")?;
        if let Some(la) = a.transfer_la {
            self.number("TransferLA", la, 3)?;
        }
        for (rank, placement) in (1u8..).zip(&a.placements) {
            self.placement(placement, rank)?;
        }
        let first_rank = if a.primary_missing { 2u8 } else { 1 };
        for (rank, need) in (first_rank..).zip(&a.needs) {
            self.counts.sen_needs += 1;
            self.open("SENneed")?;
            self.text("SENtype", need)?;
            self.number("SENtypeRank", rank, 1)?;
            self.close("SENneed")?;
        }
        self.opt_date("ReviewMeeting", a.review_meeting)?;
        self.opt_text("ReviewOutcome", a.review_outcome)?;
        self.opt_date("LastReview", a.last_review)?;
        if self.format == Sen2Format::V2026 {
            self.opt_date("ReviewDraft", a.review_draft)?;
            self.opt_date("PhaseTransferDueDate", a.phase_transfer_due)?;
            self.opt_date("PhaseTransferFinalDate", a.phase_transfer_final)?;
        }
        self.close("ActivePlans")
    }

    fn placement(&mut self, p: &Placement, rank: u8) -> io::Result<()> {
        self.counts.placements += 1;
        self.open("PlacementDetail")?;
        self.setting_head(&p.setting, rank, !p.setting_missing)?;
        self.date("EntryDate", p.entry)?;
        self.opt_date("LeavingDate", p.leaving)?;
        self.setting_flags(&p.setting)?;
        self.opt_text("Res", p.setting.res)?;
        self.opt_text("WBP", p.setting.wbp)?;
        self.close("PlacementDetail")
    }

    /// URN, UKPRN, SENSetting, SENSettingOther, PlacementRank: shared by PlanDetail and
    /// PlacementDetail. Without `identified` (an injected defect) only the rank is written.
    fn setting_head(&mut self, s: &Setting, rank: u8, identified: bool) -> io::Result<()> {
        if identified {
            if let Some(urn) = s.urn {
                self.number("URN", urn, 6)?;
            }
            if let Some(ukprn) = s.ukprn {
                self.number("UKPRN", ukprn, 8)?;
            }
            self.text("SENSetting", s.code)?;
            self.opt_text("SENSettingOther", s.other)?;
        }
        self.number("PlacementRank", rank, 1)
    }

    fn setting_flags(&mut self, s: &Setting) -> io::Result<()> {
        self.flag("SENunitIndicator", s.unit)?;
        self.flag("ResourcedProvisionIndicator", s.resourced)
    }

    fn open(&mut self, name: &str) -> io::Result<()> {
        self.xml.write_event(Event::Start(BytesStart::new(name)))
    }

    fn close(&mut self, name: &str) -> io::Result<()> {
        self.xml.write_event(Event::End(BytesEnd::new(name)))
    }

    fn text(&mut self, name: &str, value: &str) -> io::Result<()> {
        write_leaf(&mut self.xml, name, value)
    }

    fn opt_text(&mut self, name: &str, value: Option<&str>) -> io::Result<()> {
        match value {
            Some(v) => self.text(name, v),
            None => Ok(()),
        }
    }

    fn number(&mut self, name: &str, n: impl std::fmt::Display, width: usize) -> io::Result<()> {
        self.scratch.clear();
        // Writing into a String cannot fail.
        let _ = write!(self.scratch, "{n:0width$}");
        write_leaf(&mut self.xml, name, &self.scratch)
    }

    fn date(&mut self, name: &str, d: NaiveDate) -> io::Result<()> {
        self.scratch.clear();
        push_date(&mut self.scratch, d);
        write_leaf(&mut self.xml, name, &self.scratch)
    }

    fn opt_date(&mut self, name: &str, d: Option<NaiveDate>) -> io::Result<()> {
        match d {
            Some(d) => self.date(name, d),
            None => Ok(()),
        }
    }

    fn flag(&mut self, name: &str, value: bool) -> io::Result<()> {
        let words = self.style.random_bool(P_WORD_BOOLEANS);
        let text = match (value, words) {
            (true, false) => "1",
            (false, false) => "0",
            (true, true) => "true",
            (false, true) => "false",
        };
        self.text(name, text)
    }

    fn opt_flag(&mut self, name: &str, value: Option<bool>) -> io::Result<()> {
        match value {
            Some(v) => self.flag(name, v),
            None => Ok(()),
        }
    }
}

fn write_leaf<W: Write>(xml: &mut Writer<W>, name: &str, value: &str) -> io::Result<()> {
    xml.write_event(Event::Start(BytesStart::new(name)))?;
    xml.write_event(Event::Text(BytesText::from_escaped(partial_escape(value))))?;
    xml.write_event(Event::End(BytesEnd::new(name)))
}

/// `YYYY-MM-DD` without going through chrono's formatter, which is the hot path here.
/// Years are validated to four digits (config::CENSUS_YEARS minus at most 26).
fn push_date(out: &mut String, d: NaiveDate) {
    fn digits(out: &mut String, value: u32, width: u32) {
        for i in (0..width).rev() {
            let digit = (value / 10u32.pow(i)) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
    }
    digits(out, d.year().unsigned_abs(), 4);
    out.push('-');
    digits(out, d.month(), 2);
    out.push('-');
    digits(out, d.day(), 2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ymd;

    #[test]
    fn dates_are_iso() {
        let mut s = String::new();
        push_date(&mut s, ymd(2026, 1, 5));
        assert_eq!(s, "2026-01-05");
        s.clear();
        push_date(&mut s, ymd(2001, 12, 31));
        assert_eq!(s, "2001-12-31");
    }
}
