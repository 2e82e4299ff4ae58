//! A night at a chosen time, through the injected clock (`RunOptions::clock`): the run's id,
//! start, finish and every row's `loaded_at` are the clock's time, and the quarantine's
//! retention expires rejects by it, so half a year passes without waiting or faking file times.

use std::sync::Arc;

use arrow_array::{Array, TimestampMicrosecondArray};
use chrono::TimeDelta;
use sendlake_calendar::Clock;
use sendlake_pipeline::RunOptions;
use sendlake_test::FixedClock;

use crate::support::*;

#[test]
fn a_night_runs_at_the_clocks_time_and_the_quarantine_expires_by_it() {
    let ws = Workspace::new();
    let cfg = sendlake_sim::Sen2SimConfig {
        defects: Some(sendlake_sim::DefectConfig::uniform(0.06)),
        ..sendlake_test::sim::sen2(1, 150, 9)
    };
    sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    let p = ws.pipeline(&["sen2"]);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text + "[retention]\nquarantine_days = 180\n").unwrap();
    let clock = FixedClock::at("2026-03-02T01:30:00Z");
    let night = || {
        ws.run_with(
            &p,
            RunOptions {
                demo: true,
                clock: Arc::new(clock.clone()),
                ..RunOptions::default()
            },
        )
        .unwrap()
        .manifest
    };

    let first = night();
    assert_eq!(first.started_at, "2026-03-02T01:30:00.000Z");
    assert_eq!(
        first.finished_at.as_deref(),
        Some("2026-03-02T01:30:00.000Z")
    );
    assert!(
        first.run_id.starts_with("20260302T013000Z-"),
        "{}",
        first.run_id
    );
    let loaded_at: Vec<i64> = ws
        .read("restricted", "person")
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("loaded_at").unwrap();
            let c = c
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .unwrap();
            (0..c.len()).map(|i| c.value(i)).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(loaded_at.len(), 150);
    assert!(
        loaded_at
            .iter()
            .all(|&t| t == clock.now().timestamp_micros())
    );
    let quarantined = rows(&ws.read("secure", "quarantine/sen2_rejects"));
    assert!(quarantined > 0, "the defects are quarantined");

    // The return is read once; the nights after have nothing new (a return re-read would
    // replace its rejects with the new night's).
    for f in std::fs::read_dir(ws.inputs("sen2")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }

    // 179 days on, the first night's rejects are within the 180 days kept.
    clock.advance(TimeDelta::days(179));
    let kept = night();
    assert_eq!(kept.started_at, "2026-08-28T01:30:00.000Z");
    let retention = kept.retention.as_ref().unwrap();
    assert_eq!(retention.applied_at, "2026-08-28T01:30:00.000Z");
    assert_eq!(retention.totals.quarantine_rows_deleted, 0);
    assert_eq!(
        rows(&ws.read("secure", "quarantine/sen2_rejects")),
        quarantined
    );

    // Two days more, they are past it and deleted.
    clock.advance(TimeDelta::days(2));
    let expired = night();
    let retention = expired.retention.as_ref().unwrap();
    assert_eq!(
        retention.totals.quarantine_rows_deleted as usize,
        quarantined
    );
    assert_eq!(rows(&ws.read("secure", "quarantine/sen2_rejects")), 0);
}
