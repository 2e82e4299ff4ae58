//! Declared sources end to end: the council and NHS source files of `pipelines/sources/` run
//! against the partner simulator on loopback, into a Delta lake. Incremental runs with updates
//! and tombstones, a run killed mid-extraction and one crashed between commits, a failing
//! partner, each drift policy, faults recovered within the retry budget, and the same child
//! linked across the council, the NHS provider and SEN2.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sendlake_pipeline::{Manifest, RunOptions, RunStatus, load_plan, run};
use sendlake_sim::Sen2SimConfig;
use sendlake_sim::serve::council::CouncilStream;
use sendlake_sim::serve::faults::{Drift, Endpoint};
use sendlake_sim::serve::{Changes, RunningSim, SimServerConfig};
use sendlake_test::sim::Simulator;

use crate::support::*;

fn sim_config() -> Sen2SimConfig {
    Sen2SimConfig {
        las: 2,
        persons_per_la: 60,
        seed: 5,
        ..Sen2SimConfig::default()
    }
}

fn source_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/sources")
        .join(name)
}

/// A copy of a bundled source file with test-speed retries and edits applied.
fn edited_source(ws: &Workspace, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(source_file(name)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{name} has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    // Fast, small retry budgets so failure tests finish quickly; Retry-After still honoured.
    if text.contains("[http.retry]") {
        text = text
            .replace("initial_backoff_ms = 500", "initial_backoff_ms = 5")
            .replace("max_backoff_ms = 30000", "max_backoff_ms = 50")
            .replace("budget = 50", "budget = 8");
    } else {
        text.push_str(
            "\n[http.retry]\nmax_attempts = 4\ninitial_backoff_ms = 5\nmax_backoff_ms = 50\nbudget = 8\nmax_retry_after_secs = 1\n",
        );
    }
    let path = ws.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A pipeline over `sources` (source file paths), all pointed at the simulator, with an
/// optional SEN2 folder for the same children.
fn pipeline(ws: &Workspace, sim: &RunningSim, sources: &[PathBuf], sen2: bool) -> PathBuf {
    let mut text = String::from(
        "[pipeline]\nname = \"partners\"\n[store]\nurl = \"lake\"\n[run]\nbatch_rows = 500\n",
    );
    if sen2 {
        ws.inputs("sen2");
        text.push_str(
            "[[sources]]\ntype = \"sen2_xml\"\nname = \"sen2\"\npath = \"inputs/sen2\"\n",
        );
    }
    for s in sources {
        text.push_str(&format!(
            "[[sources]]\ntype = \"source_file\"\nfile = {:?}\nbase_url = {:?}\n",
            s.display().to_string(),
            sim.base_url()
        ));
    }
    let p = ws.dir.path().join("partners.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn secrets(sim: &RunningSim) -> BTreeMap<String, String> {
    let c = sim.config();
    BTreeMap::from([
        ("SENDLAKE_COUNCIL_CLIENT_ID".to_owned(), c.client_id.clone()),
        (
            "SENDLAKE_COUNCIL_CLIENT_SECRET".to_owned(),
            c.client_secret.clone(),
        ),
        ("SENDLAKE_NHS_API_KEY".to_owned(), c.api_key.clone()),
    ])
}

fn opts(sim: &RunningSim) -> RunOptions {
    RunOptions {
        demo: true,
        secrets: secrets(sim),
        ..RunOptions::default()
    }
}

/// Runs on the given runtime (the simulator lives on it too).
fn run_on(rt: &tokio::runtime::Runtime, p: &Path, opts: RunOptions) -> Manifest {
    let plan = load_plan(p).unwrap();
    rt.block_on(run(&plan, opts)).unwrap().manifest
}

/// A runtime and the simulator (on it) for [`sim_config`]'s children.
fn simulator() -> (tokio::runtime::Runtime, RunningSim) {
    let Simulator { rt, sim } = Simulator::start(SimServerConfig {
        sen2: sim_config(),
        ..SimServerConfig::default()
    });
    (rt, sim)
}

/// Source `name` of `m`, which must be marked stale (it failed and kept its last good data).
fn stale<'m>(m: &'m Manifest, name: &str) -> &'m sendlake_pipeline::manifest::SourceEntry {
    let source = m
        .sources
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no source {name}"));
    assert_eq!(
        source.status,
        Some(sendlake_pipeline::manifest::SourceStatus::Stale),
        "{name}"
    );
    source
}

fn stream<'m>(
    m: &'m Manifest,
    source: &str,
    stream: &str,
) -> &'m sendlake_pipeline::manifest::StreamEntry {
    m.sources
        .iter()
        .find(|s| s.name == source)
        .unwrap_or_else(|| panic!("no source {source}"))
        .streams
        .iter()
        .find(|s| s.name == stream)
        .unwrap_or_else(|| panic!("no stream {source}/{stream}"))
}

const COUNCIL_TABLES: [(CouncilStream, &str, &str); 4] = [
    (CouncilStream::Requests, "requests", "cms_request"),
    (CouncilStream::Assessments, "assessments", "cms_assessment"),
    (CouncilStream::Plans, "plans", "cms_plan"),
    (CouncilStream::Placements, "placements", "cms_placement"),
];

/// The lake holds exactly the simulator's live records: same count, no id twice.
fn assert_lake_matches(ws: &Workspace, sim: &RunningSim) {
    for (s, _, table) in COUNCIL_TABLES {
        let ids = strings(&ws.read("restricted", table), "record_id");
        let distinct: HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{table}: an id is loaded twice");
        assert_eq!(
            ids.len(),
            sim.council_counts(s).0,
            "{table}: rows vs the council's live records"
        );
    }
    let referrals = rows(&ws.read("restricted", "health_referral"));
    assert_eq!(
        referrals,
        sim.referral_count(),
        "health_referral vs the provider's snapshot"
    );
}

#[test]
fn council_and_nhs_load_reconcile_and_link_the_same_child() {
    let (rt, sim) = simulator();
    let ws = Workspace::new();
    sendlake_sim::write_sen2_returns(&sim_config(), &ws.inputs("sen2")).unwrap();
    let p = pipeline(
        &ws,
        &sim,
        &[
            source_file("council_cms.toml"),
            source_file("nhs_community.toml"),
        ],
        true,
    );
    let m = run_on(&rt, &p, opts(&sim));
    assert_eq!(m.status, RunStatus::Succeeded, "{:#?}", m.reconciliation);
    assert!(m.reconciled);
    for (_, name, _) in COUNCIL_TABLES {
        let st = stream(&m, "council_cms", name);
        assert_eq!(st.mode, sendlake_pipeline::manifest::ReadMode::Full);
        assert!(
            st.records.read > 0 && st.records.reconciles(),
            "{name}: {:?}",
            st.records
        );
        assert!(
            st.cursor_after.is_some(),
            "{name}: the cursor is committed with the rows"
        );
    }
    assert_lake_matches(&ws, &sim);

    // The council's request for a child and the NHS's referrals of the same child share a
    // person key (the NHS only sends an NHS number), and it is the SEN2 return's key too.
    let req = ws.read("restricted", "cms_request");
    let council: HashMap<String, (String, String)> = strings(&req, "nhs_number_key")
        .into_iter()
        .zip(strings(&req, "person_key"))
        .zip(strings(&req, "person_key_basis"))
        .filter_map(|((n, p), b)| Some((n?, (p?, b?))))
        .collect();
    let refs = ws.read("restricted", "health_referral");
    let mut linked = 0;
    for ((nhs, person), basis) in strings(&refs, "nhs_number_key")
        .into_iter()
        .zip(strings(&refs, "person_key"))
        .zip(strings(&refs, "person_key_basis"))
    {
        let (nhs, person, basis) = (nhs.unwrap(), person.unwrap(), basis.unwrap());
        match council.get(&nhs) {
            Some((key, council_basis)) => {
                assert_eq!(
                    &person, key,
                    "a referral of a council child has the council's key"
                );
                assert_eq!(&basis, council_basis);
                if basis != "nhs_number" {
                    linked += 1;
                }
            }
            None => assert_eq!(basis, "nhs_number"),
        }
    }
    assert!(
        linked > 20,
        "only {linked} referrals linked through a UPN or ULN key"
    );
    let sen2_keys: HashSet<String> = strings(&ws.read("restricted", "person"), "person_key")
        .into_iter()
        .flatten()
        .collect();
    let upn_keys: Vec<String> = strings(&req, "person_key")
        .into_iter()
        .zip(strings(&req, "person_key_basis"))
        .filter(|(_, b)| b.as_deref() == Some("upn"))
        .filter_map(|(k, _)| k)
        .collect();
    assert!(!upn_keys.is_empty());
    assert!(
        upn_keys.iter().all(|k| sen2_keys.contains(k)),
        "a council child keyed by UPN has the same person key as in the SEN2 return"
    );
    rt.block_on(sim.shutdown()).unwrap();
}

#[test]
fn incremental_runs_apply_updates_new_records_and_tombstones() {
    let (rt, sim) = simulator();
    let ws = Workspace::new();
    let p = pipeline(
        &ws,
        &sim,
        &[
            source_file("council_cms.toml"),
            source_file("nhs_community.toml"),
        ],
        false,
    );
    let first = run_on(&rt, &p, opts(&sim));
    assert_eq!(first.status, RunStatus::Succeeded);

    for round in 0..2 {
        let report = sim.advance(&Changes {
            updates: 25,
            deletions: 6,
            new_requests: 5,
            referral_updates: 10,
            new_referrals: 4,
            referral_deletions: 3,
            ..Changes::default()
        });
        let m = run_on(&rt, &p, opts(&sim));
        assert_eq!(
            m.status,
            RunStatus::Succeeded,
            "round {round}: {:#?}",
            m.reconciliation
        );
        assert!(m.reconciled);
        for (s, name, _) in COUNCIL_TABLES {
            let st = stream(&m, "council_cms", name);
            assert_eq!(
                st.mode,
                sendlake_pipeline::manifest::ReadMode::Incremental,
                "{name}"
            );
            let deleted = report.deleted.iter().filter(|(d, _)| *d == s).count() as u64;
            // The look-back window may re-read the last round's tombstones too.
            assert!(
                st.records.deleted >= deleted,
                "{name}: {} tombstones of {deleted}",
                st.records.deleted
            );
            assert!(
                st.records.read >= report.changed_in(s) as u64,
                "{name}: read {} of {} changed",
                st.records.read,
                report.changed_in(s)
            );
            // Incremental: a small share of the stream, not all of it again.
            let full = stream(&first, "council_cms", name).records.read;
            assert!(
                st.records.read * 2 < full,
                "{name}: read {} of {full}",
                st.records.read
            );
        }
        assert_lake_matches(&ws, &sim);
    }
    // Records the council deleted are gone by id.
    rt.block_on(sim.shutdown()).unwrap();
}

#[test]
fn a_run_killed_mid_extraction_or_between_commits_is_repaired_exactly() {
    let (rt, sim) = simulator();
    let ws = Workspace::new();
    let council = edited_source(&ws, "council_cms.toml", &[]);
    let p = pipeline(&ws, &sim, &[council], false);
    assert_eq!(run_on(&rt, &p, opts(&sim)).status, RunStatus::Succeeded);

    // Killed while reading: the plans endpoint hangs and the process is stopped. Nothing of
    // the source may be committed, so the re-run reads the same changes again.
    sim.advance(&Changes {
        updates: 30,
        deletions: 5,
        new_requests: 6,
        ..Changes::default()
    });
    sim.faults().hang(Endpoint::CouncilPlans, true);
    let plan = load_plan(&p).unwrap();
    let killed = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(3), run(&plan, opts(&sim))).await
    });
    assert!(
        killed.is_err(),
        "the run should still be hanging when it is killed"
    );
    sim.faults().hang(Endpoint::CouncilPlans, false);

    // Its lock stays behind, as a killed process's would, without a heartbeat: the next run is
    // refused, naming the holder, until the operator releases it (`sendlake unlock`) or it
    // goes stale.
    let refused = rt.block_on(run(&plan, opts(&sim)));
    let Err(e @ sendlake_pipeline::RunError::Locked(_)) = refused else {
        panic!("the next run was not refused: {refused:?}");
    };
    assert_eq!(e.exit_code(), 4);
    rt.block_on(async {
        let lake = sendlake_pipeline::open_store(&plan.store_url).unwrap();
        let held = sendlake_pipeline::lock::list(&lake).await.unwrap();
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(held[0].unit, "source-council_cms");
        assert!(e.to_string().contains(&held[0].run_id), "{e}");
        let released = sendlake_pipeline::lock::unlock(&lake, &held[0].run_id)
            .await
            .unwrap();
        assert_eq!(released, ["source-council_cms"]);
    });

    // Crashed between commits: requests committed (quarantine + rows with cursor), then the
    // process dies before the assessments' commits.
    let crash = rt.block_on(run(
        &plan,
        RunOptions {
            crash_after_commits: Some(2),
            ..opts(&sim)
        },
    ));
    assert!(matches!(
        crash,
        Err(sendlake_pipeline::RunError::SimulatedCrash(2))
    ));

    let m = run_on(&rt, &p, opts(&sim));
    assert_eq!(m.status, RunStatus::Succeeded, "{:#?}", m.reconciliation);
    for (s, _, table) in COUNCIL_TABLES {
        let ids = strings(&ws.read("restricted", table), "record_id");
        let distinct: HashSet<_> = ids.iter().collect();
        assert_eq!(
            distinct.len(),
            ids.len(),
            "{table}: duplicated by the re-run"
        );
        assert_eq!(
            ids.len(),
            sim.council_counts(s).0,
            "{table}: skipped or stale rows"
        );
    }
    // The requests stream had committed its cursor in the crashed run: the re-run starts
    // from it, while assessments starts from the cursor before the crash.
    let requests = stream(&m, "council_cms", "requests");
    let assessments = stream(&m, "council_cms", "assessments");
    assert!(requests.records.read < assessments.records.read + 10);
    rt.block_on(sim.shutdown()).unwrap();
}

#[test]
fn a_failing_partner_is_stale_keeps_its_last_good_data_and_the_run_is_partial() {
    let (rt, sim) = simulator();
    let ws = Workspace::new();
    let nhs = edited_source(&ws, "nhs_community.toml", &[]);
    let council = edited_source(&ws, "council_cms.toml", &[]);
    let p = pipeline(&ws, &sim, &[council, nhs], false);
    assert_eq!(run_on(&rt, &p, opts(&sim)).status, RunStatus::Succeeded);
    let version = ws.version("restricted", "health_referral");
    let before = rows(&ws.read("restricted", "health_referral"));

    sim.faults()
        .server_errors(Endpoint::NhsReferrals, 10_000, 503);
    sim.advance(&Changes {
        updates: 10,
        new_referrals: 5,
        ..Changes::default()
    });
    let m = run_on(&rt, &p, opts(&sim));
    assert_eq!(m.status, RunStatus::Partial);
    assert_eq!(m.exit_code, Some(1));
    let nhs = stale(&m, "nhs_community");
    let reason = nhs.stale_reason.as_deref().unwrap();
    assert!(
        reason.contains("503") || reason.contains("budget"),
        "{reason}"
    );
    assert!(
        !reason.contains(&sim.config().api_key),
        "the key must never be printed"
    );
    assert_eq!(
        ws.version("restricted", "health_referral"),
        version,
        "no commit for a stale source"
    );
    assert_eq!(rows(&ws.read("restricted", "health_referral")), before);
    // The council still loaded.
    let council = m.sources.iter().find(|s| s.name == "council_cms").unwrap();
    assert_eq!(
        council.status,
        Some(sendlake_pipeline::manifest::SourceStatus::Ok)
    );
    assert!(stream(&m, "council_cms", "requests").records.read > 0);

    // Back up: the next run catches up.
    sim.faults().clear_all();
    let m = run_on(&rt, &p, opts(&sim));
    assert_eq!(m.status, RunStatus::Succeeded);
    assert_lake_matches(&ws, &sim);
    rt.block_on(sim.shutdown()).unwrap();
}

#[test]
fn drift_is_quarantined_evolved_or_frozen_as_the_source_says() {
    let (rt, sim) = simulator();
    let referrals = sim.referral_count() as u64;

    let cases: [(&str, Drift, &str); 3] = [
        (
            "quarantine",
            Drift::AddField("colour".into()),
            "DRIFT_NEW_FIELD",
        ),
        (
            "quarantine",
            Drift::RemoveField("first_contact_date".into()),
            "DRIFT_REMOVED_FIELD",
        ),
        (
            "quarantine",
            Drift::ChangeType("referral_date".into()),
            "DRIFT_TYPE_CHANGE",
        ),
    ];
    for (policy, drift, rule) in cases {
        let ws = Workspace::new();
        let nhs = edited_source(
            &ws,
            "nhs_community.toml",
            &[("drift = \"quarantine\"", &format!("drift = \"{policy}\""))],
        );
        let p = pipeline(&ws, &sim, &[nhs], false);
        sim.faults().drift(Endpoint::NhsReferrals, Some(drift));
        let m = run_on(&rt, &p, opts(&sim));
        let st = stream(&m, "nhs_community", "referrals");
        assert_eq!(st.records.read, referrals);
        assert_eq!(
            st.records.quarantined.get(rule),
            Some(&referrals),
            "{rule}: {:?}",
            st.records
        );
        assert_eq!(st.records.loaded, 0);
        assert!(m.reconciled, "{:#?}", m.reconciliation);
        let rejects = ws.read("secure", "quarantine/record_rejects");
        assert_eq!(rows(&rejects) as u64, referrals);
        assert!(
            strings(&rejects, "reason_code")
                .iter()
                .all(|r| r.as_deref() == Some(rule))
        );
    }

    // Evolve: the records load, the drift is reported.
    let ws = Workspace::new();
    let nhs = edited_source(
        &ws,
        "nhs_community.toml",
        &[("drift = \"quarantine\"", "drift = \"evolve\"")],
    );
    let p = pipeline(&ws, &sim, &[nhs], false);
    sim.faults().drift(
        Endpoint::NhsReferrals,
        Some(Drift::AddField("colour".into())),
    );
    let m = run_on(&rt, &p, opts(&sim));
    assert_eq!(m.status, RunStatus::Succeeded);
    let st = stream(&m, "nhs_community", "referrals");
    assert_eq!(st.records.loaded, referrals);
    assert_eq!(
        st.records.drift.get("DRIFT_NEW_FIELD /colour"),
        Some(&referrals)
    );
    let loaded = ws.read("restricted", "health_referral");
    assert!(
        loaded[0].schema().column_with_name("colour").is_none(),
        "drift never adds columns"
    );

    // Freeze: the source fails, nothing is committed, the run is partial.
    let ws = Workspace::new();
    let nhs = edited_source(
        &ws,
        "nhs_community.toml",
        &[("drift = \"quarantine\"", "drift = \"freeze\"")],
    );
    let p = pipeline(&ws, &sim, &[nhs], false);
    let m = run_on(&rt, &p, opts(&sim));
    assert_eq!(m.status, RunStatus::Failed, "the only source failed");
    assert_eq!(m.exit_code, Some(3));
    let nhs = stale(&m, "nhs_community");
    assert!(
        nhs.stale_reason
            .as_deref()
            .unwrap()
            .contains("DRIFT_NEW_FIELD")
    );
    assert_eq!(ws.version("restricted", "health_referral"), None);
    sim.faults().clear_all();
    rt.block_on(sim.shutdown()).unwrap();
}

#[test]
fn rate_limits_server_errors_truncated_pages_and_expiring_tokens_are_recovered() {
    let Simulator { rt, sim } = Simulator::start(SimServerConfig {
        sen2: sim_config(),
        // Tokens die every second; with paging slowed below, they expire mid-run.
        token_lifetime: Duration::from_secs(1),
        ..SimServerConfig::default()
    });
    let ws = Workspace::new();
    let council = edited_source(
        &ws,
        "council_cms.toml",
        &[("query = { limit = \"500\" }", "query = { limit = \"25\" }")],
    );
    let nhs = edited_source(&ws, "nhs_community.toml", &[]);
    let p = pipeline(&ws, &sim, &[council, nhs], false);
    let f = sim.faults();
    f.rate_limit(Endpoint::CouncilRequests, 2, 1);
    f.server_errors(Endpoint::CouncilPlans, 2, 503);
    f.truncate(Endpoint::CouncilAssessments, 1);
    f.server_errors(Endpoint::NhsReferrals, 1, 502);
    f.delay(Endpoint::CouncilPlacements, Duration::from_millis(150));
    let m = run_on(&rt, &p, opts(&sim));
    assert_eq!(m.status, RunStatus::Succeeded, "{:#?}", m.sources);
    assert!(m.reconciled);
    assert_lake_matches(&ws, &sim);
    assert!(
        f.hits(Endpoint::CouncilToken) > 1,
        "tokens were renewed during the run"
    );
    rt.block_on(sim.shutdown()).unwrap();
}

#[test]
fn file_sources_replace_a_snapshot_whole_or_a_period_by_file_and_never_wipe_on_a_missed_delivery() {
    let ws = Workspace::new();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/demo-data");
    let gias = ws.inputs("gias");
    let feedback = ws.inputs("feedback");
    std::fs::copy(
        demo.join("gias/edubasealldata20260901.csv"),
        gias.join("edubasealldata20260901.csv"),
    )
    .unwrap();
    std::fs::copy(
        demo.join("feedback/family_feedback_2026.csv"),
        feedback.join("family_feedback_2026.csv"),
    )
    .unwrap();
    let mut text = String::from("[pipeline]\nname = \"files\"\n[store]\nurl = \"lake\"\n");
    for (file, dir) in [
        ("gias.toml", "inputs/gias"),
        ("family_feedback.toml", "inputs/feedback"),
    ] {
        text.push_str(&format!(
            "[[sources]]\ntype = \"source_file\"\nfile = {:?}\npath = {dir:?}\n",
            source_file(file).display().to_string()
        ));
    }
    let p = ws.dir.path().join("files.toml");
    std::fs::write(&p, text).unwrap();
    let m = ws.run(&p).manifest;
    assert_eq!(m.status, RunStatus::Succeeded, "{:#?}", m.sources);
    let schools = rows(&ws.read("restricted", "gias_establishment"));
    assert_eq!(schools, 1750);
    assert_eq!(rows(&ws.read("restricted", "family_feedback")), 400);

    // A second survey wave adds its rows; a broken one is quarantined whole, the others stay.
    std::fs::write(
        feedback.join("family_feedback_2027.csv"),
        "Response ID,Submitted,Respondent group,Locality,I was kept informed,My child's needs are understood,I felt listened to,Support was put in place quickly,Overall experience\n\
         FB27-1,02/01/2027,Parent/carer,North,4,4,4,4,4\n",
    )
    .unwrap();
    std::fs::write(
        feedback.join("family_feedback_2028.csv"),
        b"\xff\xfe not a CSV in UTF-8",
    )
    .unwrap();
    // The GIAS delivery is missing tonight: the register must not be emptied.
    std::fs::remove_file(gias.join("edubasealldata20260901.csv")).unwrap();
    let version = ws.version("restricted", "gias_establishment");
    let m = ws.run(&p).manifest;
    assert_eq!(m.status, RunStatus::Partial);
    let g = m.sources.iter().find(|s| s.name == "gias").unwrap();
    assert_eq!(
        g.status,
        Some(sendlake_pipeline::manifest::SourceStatus::Stale)
    );
    assert!(
        g.stale_reason.as_deref().unwrap().contains("no file"),
        "{:?}",
        g.stale_reason
    );
    assert_eq!(ws.version("restricted", "gias_establishment"), version);
    assert_eq!(rows(&ws.read("restricted", "gias_establishment")), schools);
    let f = stream(&m, "family_feedback", "responses");
    assert_eq!(f.records.files_quarantined, 1);
    assert_eq!(rows(&ws.read("restricted", "family_feedback")), 401);
    let rejects = ws.read("secure", "quarantine/record_rejects");
    assert!(
        strings(&rejects, "source_file")
            .iter()
            .any(|f| f.as_deref() == Some("family_feedback_2028.csv"))
    );
}
