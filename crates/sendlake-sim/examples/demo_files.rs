//! Writes the demo pipeline's five synthetic partner files under a folder (default
//! `pipelines/demo-data`): the four CSVs of `sendlake_sim::write_demo_csv_files` and the
//! EHC plan quality-audit workbook, which needs `rust_xlsxwriter` (a dev-dependency, so the
//! library does not carry an xlsx writer).
//!
//! `cargo run -p sendlake-sim --example demo_files -- pipelines/demo-data`
//!
//! Output is deterministic: the same code writes the same bytes, so the committed files can be
//! checked against it (the CSVs by a unit test of `files.rs`).

use std::error::Error;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook};
use sendlake_sim::{
    QUALITY_AUDIT_FILE, QUALITY_AUDIT_HEADERS, QualityAuditRow, demo_files_config,
    quality_audit_rows, write_demo_csv_files,
};

/// Writes the audit rows as one sheet, `Audit`, with real Excel dates and a fixed creation
/// date (otherwise the workbook's metadata would change on every run).
fn write_audit_workbook(rows: &[QualityAuditRow], path: &Path) -> Result<(), Box<dyn Error>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_ymd(2026, 9, 1)?.and_hms(9, 0, 0)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title("EHC plan quality audit 2026 (synthetic demo data)")
            .set_creation_datetime(&created),
    );
    let bold = Format::new().set_bold().set_align(FormatAlign::Center);
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let sheet = workbook.add_worksheet();
    sheet.set_name("Audit")?;
    for (c, header) in QUALITY_AUDIT_HEADERS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *header, &bold)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, &row.plan_reference)?;
        sheet.write_number(r, 1, f64::from(row.la_code))?;
        sheet.write_string(r, 2, row.locality)?;
        let d = &row.audit_date;
        let day = ExcelDateTime::parse_from_str(&d.format("%Y-%m-%d").to_string())?;
        sheet.write_datetime_with_format(r, 3, &day, &date)?;
        for (s, grade) in row.section_grades.iter().enumerate() {
            if let Some(grade) = grade {
                sheet.write_string(r, 4 + s as u16, *grade)?;
            }
        }
        sheet.write_string(r, QUALITY_AUDIT_HEADERS.len() as u16 - 1, row.overall)?;
    }
    sheet.set_column_width(0, 20)?;
    sheet.set_column_range_width(2, QUALITY_AUDIT_HEADERS.len() as u16 - 1, 16)?;
    sheet.set_freeze_panes(1, 0)?;
    workbook.save(path)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "pipelines/demo-data".into()),
    );
    let cfg = demo_files_config();
    let mut written = write_demo_csv_files(&cfg, &dir)?;
    let rows = quality_audit_rows(&cfg)?;
    let audit = dir.join(QUALITY_AUDIT_FILE);
    write_audit_workbook(&rows, &audit)?;
    written.push(audit);
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
