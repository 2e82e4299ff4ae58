//! What a real run prints: the `sendlake` binary runs the demo pipeline, with broken SEN2 files
//! and bad partner records added so the error paths log too, against a partner simulator whose
//! credentials the test chose. All of stdout and stderr is scanned for every identifier of the
//! inputs and every secret of the run, and checked for the shape its format promises.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};
use sendlake_extract::{Sen2Item, Sen2Reader};
use sendlake_sim::serve::faults::{Drift, Endpoint};
use sendlake_sim::serve::{RunningSim, SimServerConfig};
use serde_json::Value;

use crate::privacy::{IDENTIFIER_FIELDS, collect_fields};
use crate::published::demo_pipeline;
use crate::support::*;

/// The `sendlake` binary, built by cargo (a no-op when it is fresh) once per test process:
/// cargo hands `CARGO_BIN_EXE_*` only to the binary's own package, and these tests are not in
/// it. Built with the profile of this test binary, so `cargo test --release` runs a release
/// build, and for the whole workspace with its tests, so features resolve as they did for
/// `cargo test --workspace` and no dependency is built a second time (`-p sendlake-cli` alone
/// would rebuild DataFusion with other features: minutes).
pub(crate) fn sendlake_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let profile = if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        };
        let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "build",
                "--quiet",
                "--message-format=json-render-diagnostics",
            ])
            .args(["--workspace", "--bins", "--tests", "--profile", profile])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo could not build the sendlake binary"
        );
        let bin = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            // `--tests` also builds the binary's own unit tests under the same target name.
            .filter(|m| {
                m["reason"] == "compiler-artifact"
                    && m["target"]["name"] == "sendlake"
                    && m["profile"]["test"] == false
            })
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo named no sendlake executable");
        own_copy(bin)
    })
}

/// `<target>/<profile>/sendlake` is shared by every checkout that builds into the same target
/// directory (worktrees sharing `CARGO_TARGET_DIR`), so another checkout's build can replace it
/// at any moment; the hashed file in `deps/` that cargo hard-linked it from is this checkout's
/// own. Where that cannot be told, the shared path.
fn own_copy(bin: PathBuf) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(&bin).unwrap().ino();
        let deps = bin.with_file_name("deps");
        let Ok(entries) = std::fs::read_dir(deps) else {
            return bin;
        };
        let own = entries.flatten().find(|e| {
            e.file_name().to_string_lossy().starts_with("sendlake-")
                && e.metadata().is_ok_and(|m| m.ino() == inode)
        });
        if let Some(own) = own {
            return own.path();
        }
    }
    bin
}

/// What one run of the binary printed.
struct Printed {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary in `dir` with `env` on top of a cleaned environment, stdout and stderr to
/// files (not a terminal, as under a scheduler), and a deadline so a hang fails the test.
fn run_binary(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Printed {
    let (out, err) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let mut child = Command::new(sendlake_binary())
        .args(args)
        .current_dir(dir)
        // Whatever the developer's shell set must not change what is tested.
        .env_remove("SENDLAKE_LOG")
        .env_remove("SENDLAKE_PSEUDONYMISATION_KEY")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(900);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sendlake {args:?} did not finish in 15 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Printed {
        code: status.code().expect("the run was not killed by a signal"),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(err).unwrap(),
    }
}

fn random_secret(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// The demo pipeline's children (its `[simulator]` and `[sources.synthetic]`), so the test's
/// simulator serves the same children as the run's SEN2 returns.
fn demo_children(pipeline_text: &str) -> sendlake_sim::Sen2SimConfig {
    for setting in [
        "las = 3",
        "persons_per_la = 400",
        "seed = 42",
        "census_year = 2026",
    ] {
        assert!(
            pipeline_text.contains(setting),
            "the demo's children changed ({setting}): update demo_children"
        );
    }
    sendlake_sim::Sen2SimConfig {
        las: 3,
        persons_per_la: 400,
        seed: 42,
        census_year: 2026,
        ..Default::default()
    }
}

/// A test-only partner source: a provider's referral export (CSV) with names, birth dates and
/// postcodes the mapping reads but drops, and NHS numbers that fail their checks.
const EXPORT_SOURCE: &str = r#"
kind = "file"
name = "referral_export"
description = "Test only: a provider's referral export with bad NHS numbers."
path = "inputs/referral_export"

[[streams]]
name = "referrals"
pattern = "*.csv"
format = { type = "csv" }
replace = "file"

[streams.mapping]
table = "health_referral"
id = "/Referral ID"
drift = "quarantine"
ignore = ["/Patient name", "/Date of birth", "/Postcode"]

[streams.mapping.person]
nhs_number = "/NHS number"
link_via = ["cms_request"]

[[streams.mapping.columns]]
name = "person_key"
derive = "person_key"

[[streams.mapping.columns]]
name = "person_key_basis"
derive = "person_key_basis"

[[streams.mapping.columns]]
name = "nhs_number_key"
derive = "nhs_number_key"

[[streams.mapping.columns]]
name = "service_line"
from = "/Service"
map = { "Paediatrics" = "community_paediatrics", "SALT" = "speech_and_language_therapy" }

[[streams.mapping.columns]]
name = "provider_code"
from = "/Provider"

[[streams.mapping.columns]]
name = "service_code"
from = "/Service code"

[[streams.mapping.columns]]
name = "referral_date"
from = "/Referred"
format = "%d/%m/%Y"

[[streams.mapping.columns]]
name = "first_contact_date"
from = "/First contact"
format = "%d/%m/%Y"

[[streams.mapping.columns]]
name = "discharge_date"
from = "/Discharged"
format = "%d/%m/%Y"
"#;

/// The demo pipeline in a temp workspace, with bad input, against a simulator the test runs.
struct Scenario {
    ws: Workspace,
    pipeline: PathBuf,
    /// Keeps the simulator serving while the binary runs.
    _runtime: tokio::runtime::Runtime,
    sim: RunningSim,
    /// Environment of the run: the pseudonymisation key and the partners' credentials.
    env: Vec<(&'static str, String)>,
    /// Values of the broken inputs the SEN2 reader cannot return, and of the export.
    written: Values,
}

/// Values to look for: identifiers, printed in any of their [`forms`], and free text, whole.
#[derive(Default)]
struct Values {
    identifiers: HashSet<String>,
    free_text: HashSet<String>,
}

impl Values {
    fn person(&mut self, p: &sendlake_extract::RawPerson) {
        collect_fields(&p.element, &IDENTIFIER_FIELDS, &mut self.identifiers);
        // Never loaded (it can name a child), so never to be printed either. Not split into
        // words: those are ordinary ones ("placement").
        collect_fields(&p.element, &["SENSettingOther"], &mut self.free_text);
    }

    /// Everything to look for, each value in every form it could be printed in.
    fn needles(&self) -> HashSet<String> {
        let free = self.free_text.iter().map(|t| t.trim().to_owned());
        self.identifiers
            .iter()
            .flat_map(|v| forms(v))
            .chain(free.filter(|t| t.chars().count() >= 6))
            .collect()
    }
}

impl Scenario {
    fn new() -> Self {
        let ws = Workspace::new();
        let mut text = std::fs::read_to_string(demo_pipeline(&ws)).unwrap();
        let children = demo_children(&text);

        // The partners, with credentials only this test knows, misbehaving so the run retries,
        // meets drift carrying identifiers, and quarantines.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sim = runtime
            .block_on(sendlake_sim::serve::start(SimServerConfig {
                sen2: children,
                client_id: format!("sendlake-test-{}", random_secret(12)),
                client_secret: random_secret(40),
                api_key: random_secret(40),
                ..SimServerConfig::default()
            }))
            .unwrap();
        let faults = sim.faults();
        faults.server_errors(Endpoint::CouncilToken, 1, 503);
        faults.rate_limit(Endpoint::CouncilRequests, 1, 1);
        faults.truncate(Endpoint::CouncilAssessments, 1);
        faults.drift(
            Endpoint::CouncilAssessments,
            Some(Drift::AddField("caseworker_note".into())),
        );
        faults.drift(
            Endpoint::CouncilPlacements,
            Some(Drift::ChangeType("upn".into())),
        );
        faults.rate_limit(Endpoint::NhsReferrals, 1, 1);
        faults.drift(
            Endpoint::NhsReferrals,
            Some(Drift::ChangeType("nhs_number".into())),
        );
        assert_eq!(text.matches("base_url = \"simulator\"").count(), 3);
        text = text.replace(
            "base_url = \"simulator\"",
            &format!("base_url = {:?}", sim.base_url()),
        );
        let config = sim.config();
        let env = vec![
            ("SENDLAKE_PSEUDONYMISATION_KEY", random_secret(48)),
            ("SENDLAKE_COUNCIL_CLIENT_ID", config.client_id.clone()),
            (
                "SENDLAKE_COUNCIL_CLIENT_SECRET",
                config.client_secret.clone(),
            ),
            ("SENDLAKE_NHS_API_KEY", config.api_key.clone()),
        ];

        // The messy SEN2 source reads a copy of the bundled mock return beside broken files.
        let messy = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pipelines/demo-data/sen2-messy")
            .canonicalize()
            .unwrap();
        let bundled = format!("path = {:?}", messy.display().to_string());
        assert!(text.contains(&bundled));
        text = text.replace(
            &bundled,
            &format!("path = {:?}", ws.inputs("sen2_messy").display().to_string()),
        );
        std::fs::copy(
            messy.join("SEN2-2024-mockup.xml"),
            ws.inputs("sen2_messy").join("SEN2-2024-mockup.xml"),
        )
        .unwrap();
        let mut written = Values::default();
        write_broken_returns(&ws, &mut written);
        write_referral_export(&ws, &sim, &mut written);
        text.push_str(&format!(
            "\n[[sources]]\ntype = \"source_file\"\nfile = {:?}\n",
            ws.dir
                .path()
                .join("referral_export.toml")
                .display()
                .to_string()
        ));
        let pipeline = ws.dir.path().join("demo-with-bad-input.toml");
        std::fs::write(&pipeline, text).unwrap();
        Self {
            ws,
            pipeline,
            _runtime: runtime,
            sim,
            env,
            written,
        }
    }

    fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Printed {
        let pipeline = self.pipeline.display().to_string();
        let mut all = vec!["run", pipeline.as_str()];
        all.extend_from_slice(args);
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra_env);
        let printed = run_binary(self.ws.dir.path(), &all, &env);
        assert!(
            matches!(printed.code, 0 | 1),
            "the run did not run (exit code {}): {}",
            printed.code,
            tail(&printed.stderr)
        );
        printed
    }

    /// The secrets of the run, each also hex encoded: the key, the partners' credentials.
    fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, v) in &self.env {
            out.push(v.clone());
            out.push(v.bytes().map(|b| format!("{b:02x}")).collect());
        }
        out
    }

    /// Every identifier and free text of the inputs, in the forms it could be printed in.
    fn needles(&self) -> HashSet<String> {
        let mut found = Values {
            identifiers: self.written.identifiers.clone(),
            free_text: self.written.free_text.clone(),
        };
        for source in ["sen2", "sen2_messy"] {
            for f in std::fs::read_dir(self.ws.inputs(source)).unwrap() {
                let path = f.unwrap().path();
                let Ok(reader) = Sen2Reader::open(&path) else {
                    continue;
                };
                // Broken files give their persons up to the break.
                for item in reader.map_while(Result::ok) {
                    if let Sen2Item::Person(p) = item {
                        found.person(&p);
                    }
                }
            }
        }
        for child in self.sim.children() {
            found.identifiers.insert(child.nhs_number.clone());
            found.identifiers.extend(child.upn);
        }
        assert!(
            found.identifiers.len() > 5000,
            "the scan needs something to look for: {} values",
            found.identifiers.len()
        );
        found.needles()
    }
}

/// The forms a value could be printed in: as given, without spaces, upper-cased (the fallback
/// key's normalisation), each part of a name, a birth date in ISO and UK order, an NHS number
/// spaced 3-3-4; only forms of 6 or more characters. Shorter ones are too common to be
/// evidence of a leak (codes like `M`, outward codes like `SG1`, names like `May` or `Ella`
/// that are also words), and every identifier a child can be found by is longer: a UPN has 13
/// characters, a ULN or NHS number 10, a birth date 10, a full postcode 6 to 8.
fn forms(value: &str) -> Vec<String> {
    let v = value.trim();
    let mut out = vec![v.to_owned(), v.replace(' ', ""), v.to_uppercase()];
    out.extend(
        v.split([' ', '-', '\'', '&'])
            .flat_map(|part| [part.to_owned(), part.to_uppercase()]),
    );
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if let [y, m, d] = v.split('-').collect::<Vec<_>>()[..]
        && y.len() == 4
        && [y, m, d].iter().all(|p| digits(p))
    {
        out.push(format!("{d}/{m}/{y}"));
    }
    if let [d, m, y] = v.split('/').collect::<Vec<_>>()[..]
        && y.len() == 4
        && [y, m, d].iter().all(|p| digits(p))
    {
        out.push(format!("{y}-{m}-{d}"));
    }
    if v.len() == 10 && digits(v) {
        out.push(format!("{} {} {}", &v[..3], &v[3..6], &v[6..]));
    }
    out.retain(|f| f.chars().count() >= 6);
    out
}

/// The `n`th (from 1) occurrence of `pat` in `text`, as a byte offset.
fn nth(text: &str, pat: &str, n: usize) -> usize {
    text.match_indices(pat)
        .nth(n - 1)
        .unwrap_or_else(|| panic!("no {pat} number {n}"))
        .0
}

/// One top-level field of a person, e.g. `Surname`.
fn field(p: &sendlake_extract::RawPerson, name: &str) -> String {
    p.element
        .fields
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| f.value.clone())
        .unwrap_or_default()
}

/// Broken SEN2 files, one per way the reader reports a file, made from a synthetic return of
/// an LA the demo does not load (so a file that did load could not replace demo data). The
/// reader cannot give back what follows a break, so every value of the return, and the
/// fragments a break leaves, go into `written`.
fn write_broken_returns(ws: &Workspace, written: &mut Values) {
    let cfg = sendlake_sim::Sen2SimConfig {
        las: 4,
        persons_per_la: 30,
        seed: 7,
        census_year: 2026,
        ..Default::default()
    };
    let generated = ws.dir.path().join("generated");
    sendlake_sim::write_sen2_returns(&cfg, &generated).unwrap();
    let la = sendlake_sim::la_codes(cfg.las, cfg.first_la)[3];
    let path = generated.join(format!("sen2_{}_{la:03}.xml", cfg.census_year));
    let mut persons = Vec::new();
    for item in Sen2Reader::open(&path).unwrap() {
        if let Sen2Item::Person(p) = item.unwrap() {
            written.person(&p);
            persons.push(p);
        }
    }
    // Persons whose names are long enough to be scanned for.
    let named: Vec<_> = persons
        .iter()
        .filter(|p| field(p, "Surname").len() >= 8 && field(p, "Forename").len() >= 6)
        .collect();
    assert!(named.len() >= 3, "the return needs persons with long names");
    let text = std::fs::read_to_string(&path).unwrap();
    let put = |name: &str, bytes: &[u8]| {
        std::fs::write(ws.inputs("sen2_messy").join(name), bytes).unwrap();
    };
    let surname =
        |p: &sendlake_extract::RawPerson| format!("<Surname>{}</Surname>", field(p, "Surname"));

    // Cut off in the middle of a UPN.
    put(
        "SEN2-cut-short.xml",
        &text.as_bytes()[..nth(&text, "<UPN>", 10) + "<UPN>".len() + 6],
    );
    // An end tag that does not match, straight after a surname.
    let at = nth(&text, "</Surname>", 5);
    put(
        "SEN2-mismatched.xml",
        format!(
            "{}</Forename>{}",
            &text[..at],
            &text[at + "</Surname>".len()..]
        )
        .as_bytes(),
    );
    // An entity nobody declared, named after the child.
    let p = named[0];
    put(
        "SEN2-unknown-entity.xml",
        text.replacen(
            &surname(p),
            &format!(
                "<Surname>{}&{};</Surname>",
                field(p, "Surname"),
                field(p, "Forename")
            ),
            1,
        )
        .as_bytes(),
    );
    // A surname saved as Latin-1: one byte that is not UTF-8.
    let p = named[1];
    let name = field(p, "Surname");
    written.identifiers.insert(name[1..].to_owned());
    let mut bytes = text.as_bytes().to_vec();
    let at = nth(&text, &surname(p), 1) + "<Surname>".len() + 1;
    bytes.insert(at, 0xE9);
    put("SEN2-latin1.xml", &bytes);
    // A spreadsheet export saved over a return.
    let mut csv = String::from("Surname,Forename,PersonBirthDate,PostCode,UPN\n");
    for p in &persons[..5] {
        let row: Vec<String> = ["Surname", "Forename", "PersonBirthDate", "PostCode", "UPN"]
            .iter()
            .map(|f| field(p, f))
            .collect();
        csv.push_str(&format!("{}\n", row.join(",")));
    }
    put("SEN2-export.xml", csv.as_bytes());
    // Persons without the Message around them.
    let start = nth(&text, "<Person>", 2);
    let end = nth(&text, "</Person>", 2) + "</Person>".len();
    put(
        "SEN2-persons-only.xml",
        format!("<Persons>{}</Persons>\n", &text[start..end]).as_bytes(),
    );
    // Text where elements belong (a note about the child) and an element SEN2 does not
    // have, then cut short at the very end, so the skips are logged and nothing loads.
    let p = named[2];
    let note = format!(
        "{} {} moved to {}",
        field(p, "Forename"),
        field(p, "Surname"),
        field(p, "PostCode")
    );
    written.identifiers.insert(note.clone());
    let with_note = text.replacen(&surname(p), &format!("{note}{}", surname(p)), 1);
    let with_note = with_note.replacen(
        "<Person>",
        &format!("<Person><Nickname>{}</Nickname>", field(p, "Forename")),
        1,
    );
    let end = with_note.rfind("</Message>").unwrap();
    put("SEN2-stray-text.xml", &with_note.as_bytes()[..end]);
}

/// The export of [`EXPORT_SOURCE`]: referrals whose NHS numbers fail their checks or are
/// missing a digit, a service no code maps to, an impossible date and a short row, beside
/// names, birth dates and postcodes (synthetic) the mapping must drop unread.
fn write_referral_export(ws: &Workspace, sim: &RunningSim, written: &mut Values) {
    std::fs::write(ws.dir.path().join("referral_export.toml"), EXPORT_SOURCE).unwrap();
    let children = sim.children();
    let (a, b, c) = (
        &children[0].nhs_number,
        &children[1].nhs_number,
        &children[2].nhs_number,
    );
    // The same body with any other check digit fails the check.
    let last = c.as_bytes()[9] - b'0';
    let failing_check = format!("{}{}", &c[..9], (last + 1) % 10);
    let rows = [
        [
            "REF-9000001-0",
            a,
            "Delphina Hartingwood",
            "14/03/2016",
            "SG12 7ZZ",
            "Paediatrics",
            "02/02/2025",
        ],
        [
            "REF-9000002-0",
            &failing_check,
            "Oriel Brookfielder",
            "03/11/2012",
            "AL10 9ZZ",
            "SALT",
            "11/06/2025",
        ],
        [
            "REF-9000003-0",
            &a[..8],
            "Tamsin Wetherall",
            "22/07/2018",
            "WD17 3ZZ",
            "SALT",
            "05/01/2026",
        ],
        [
            "REF-9000004-0",
            &format!("{}X", &b[..9]),
            "Ignatius Pellingham",
            "09/09/2010",
            "HP23 4ZZ",
            "Paediatrics",
            "17/10/2025",
        ],
        [
            "REF-9000005-0",
            b,
            "Marigold Fenwickson",
            "30/12/2014",
            "EN11 8ZZ",
            "Dietetics",
            "01/04/2025",
        ],
        [
            "REF-9000006-0",
            b,
            "Marigold Fenwickson",
            "30/12/2014",
            "EN11 8ZZ",
            "SALT",
            "31/02/2025",
        ],
    ];
    let mut csv = String::from(
        "Referral ID,NHS number,Patient name,Date of birth,Postcode,Service,Provider,Service code,Referred,First contact,Discharged\n",
    );
    for [id, nhs, name, birth, postcode, service, referred] in rows {
        csv.push_str(&format!(
            "{id},{nhs},{name},{birth},{postcode},{service},RY4,RY4-X,{referred},,\n"
        ));
        written
            .identifiers
            .extend([nhs, name, birth, postcode].map(str::to_owned));
    }
    csv.push_str(&format!("REF-9000007-0,{a},Rosalind Carrowmore\n"));
    written.identifiers.insert("Rosalind Carrowmore".into());
    std::fs::write(ws.inputs("referral_export").join("referrals_2026.csv"), csv).unwrap();
}

/// The last lines of `text`, for a failure message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// All strings (keys too) and numbers of a JSON value, one per line.
fn json_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| json_text(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.push_str(k);
                out.push('\n');
                json_text(x, out);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// What was printed, as text a value cannot hide in: JSON lines as their decoded strings and
/// numbers, other lines with `\n`-style escapes turned into spaces (an escape must not glue a
/// letter to a value and hide its boundary), and after it all, the text behind every long run
/// of hex digits (an encoded cursor, say).
fn scannable(p: &Printed) -> String {
    let mut text = String::new();
    for line in p.stdout.lines().chain(p.stderr.lines()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => json_text(&v, &mut text),
            _ => {
                text.push_str(
                    &line
                        .replace("\\n", " ")
                        .replace("\\r", " ")
                        .replace("\\t", " "),
                );
                text.push('\n');
            }
        }
    }
    let mut decoded = String::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if run >= 16 {
            let even = &text[i..i + run - run % 2];
            let raw: Vec<u8> = (0..even.len())
                .step_by(2)
                .map(|j| u8::from_str_radix(&even[j..j + 2], 16).unwrap())
                .collect();
            if let Ok(s) = String::from_utf8(raw) {
                decoded.push_str(&s);
                decoded.push('\n');
            }
        }
        i += run.max(1);
    }
    text + "\n" + &decoded
}

/// The `needles` that occur in `text` as whole tokens: not preceded or followed by a letter or
/// digit. So `2016-03-14` in a timestamp `2016-03-14T…` or a ULN inside a longer number is no
/// hit, while any value between quotes, spaces or punctuation is.
fn whole_tokens<'a>(text: &str, needles: &'a HashSet<String>) -> Vec<&'a String> {
    let mut lengths: Vec<usize> = needles.iter().map(String::len).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let mut found = Vec::new();
    let mut prev = None;
    for (i, c) in text.char_indices() {
        let starts = c.is_alphanumeric() && !prev.is_some_and(char::is_alphanumeric);
        prev = Some(c);
        if !starts {
            continue;
        }
        for &len in &lengths {
            let Some(candidate) = text.get(i..i + len) else {
                continue;
            };
            let ends = !text[i + len..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric);
            if ends && let Some(n) = needles.get(candidate) {
                found.push(n);
            }
        }
    }
    found
}

/// Raw partner record ids and council access tokens, by their shapes: `d` a digit, `x` a hex
/// digit, anything else itself. Record ids identify a child to anyone with the partner's
/// system (privacy.md), and the simulator issues a fresh token each run.
const SHAPES: [(&str, &str); 7] = [
    ("REQ-", "ddd-dddddd-d"),
    ("ASM-", "ddd-dddddd-d"),
    ("PLN-", "ddd-dddddd-d"),
    ("PLC-", "ddd-dddddd-d"),
    ("REF-", "ddddddd-d"),
    ("FB", "dd-dddd"),
    ("sim.", "xxxxxxxxxxxxxxxx"),
];

fn shaped(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (prefix, shape) in SHAPES {
        for (at, _) in text.match_indices(prefix) {
            let boundary = !text[..at]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric);
            let rest = &text.as_bytes()[at + prefix.len()..];
            let fits = rest.len() >= shape.len()
                && shape.bytes().zip(rest).all(|(s, &b)| match s {
                    b'd' => b.is_ascii_digit(),
                    b'x' => b.is_ascii_hexdigit(),
                    _ => s == b,
                });
            if boundary && fits {
                found.push(text[at..at + prefix.len() + shape.len()].to_owned());
            }
        }
    }
    found
}

/// Nothing printed holds an identifier of the inputs, a raw record id or token, or a secret.
fn assert_nothing_personal_or_secret(s: &Scenario, p: &Printed) {
    let text = scannable(p);
    let needles = s.needles();
    let mut leaked: Vec<&String> = whole_tokens(&text, &needles);
    leaked.sort();
    leaked.dedup();
    assert!(
        leaked.is_empty(),
        "{} input identifier(s) printed, e.g. {:?}; context: {:?}",
        leaked.len(),
        &leaked[..leaked.len().min(10)],
        context(&text, leaked[0])
    );
    let ids = shaped(&text);
    assert!(
        ids.is_empty(),
        "raw record ids or tokens printed: {:?}; context: {:?}",
        &ids[..ids.len().min(10)],
        context(&text, &ids[0])
    );
    let raw = format!("{}\n{}", p.stdout, p.stderr);
    for secret in s.secrets() {
        // No boundary rule for secrets: one glued to anything is still out.
        assert!(
            !text.contains(&secret) && !raw.contains(&secret),
            "a secret of the run was printed"
        );
    }
}

/// The line around the first `needle` in `text`.
fn context(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[start..end].chars().take(400).collect()
}

#[test]
fn json_logs_at_trace_level_hold_no_identifier_or_secret() {
    let s = Scenario::new();
    let p = s.run(&["--log-format", "json"], &[("SENDLAKE_LOG", "trace")]);
    assert_nothing_personal_or_secret(&s, &p);

    // JSON lines: every line of stderr one event, nothing on stdout, the summary last.
    assert_eq!(p.stdout, "", "nothing on stdout");
    let events: Vec<serde_json::Map<String, Value>> = p
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(o)) => o,
            _ => panic!("not a JSON object: {l}"),
        })
        .collect();
    for e in &events {
        for key in ["timestamp", "level", "target"] {
            assert!(e.get(key).is_some_and(Value::is_string), "no {key}: {e:?}");
        }
    }
    let is = |e: &serde_json::Map<String, Value>, message: &str| {
        e.get("message").is_some_and(|m| m == message)
    };
    let summary = events.last().unwrap();
    assert!(is(summary, "Run summary."), "{summary:?}");
    assert_eq!(summary["exit_code"], p.code);
    for key in [
        "run_id",
        "status",
        "manifest",
        "sen2_rows_read",
        "records_read",
    ] {
        assert!(summary.contains_key(key), "the summary has no {key}");
    }

    // The scan covered what it is for: the most verbose events, and the error paths of
    // every kind of bad input.
    let seen =
        |level: &str, message: &str| events.iter().any(|e| e["level"] == level && is(e, message));
    assert!(seen("DEBUG", "HTTP request"), "trace level reached");
    assert!(seen("WARN", "retrying HTTP request"));
    assert!(seen("WARN", "Schema drift."));
    assert!(seen("WARN", "Input not readable; quarantined."));
    assert!(seen("WARN", "Unexpected element skipped."));
    let quarantined: HashSet<&str> = events
        .iter()
        .filter(|e| is(e, "File quarantined whole; the other files still load."))
        .filter_map(|e| e.get("reason")?.as_str())
        .collect();
    assert_eq!(
        quarantined.len(),
        5,
        "each kind of broken file was quarantined: {quarantined:?}"
    );
    let run_id = summary["run_id"].as_str().unwrap();
    let manifest = s.ws.manifest(run_id);
    let export = manifest
        .sources
        .iter()
        .find(|s| s.name == "referral_export")
        .expect("the export was read");
    let r = &export.streams[0].records;
    assert_eq!((r.read, r.loaded), (7, 1), "{r:?}");
    assert_eq!(
        r.field_rejects.get("IDENTIFIER_INVALID"),
        Some(&3),
        "the three bad NHS numbers: {r:?}"
    );
}

#[test]
fn human_logs_at_the_default_level_hold_no_identifier_or_secret() {
    let s = Scenario::new();
    let p = s.run(&["--log-format", "human"], &[]);
    assert_nothing_personal_or_secret(&s, &p);

    assert_eq!(p.stdout, "", "nothing on stdout");
    assert!(
        !p.stderr.lines().any(|l| l.trim_start().starts_with('{')),
        "no JSON in human mode"
    );
    // Not a terminal: no colours, no progress bar redrawing itself.
    assert!(
        !p.stderr.contains(['\u{1b}', '\r']),
        "terminal control characters"
    );
    assert!(p.stderr.contains("WARN"), "warnings are logged");
    assert!(
        p.stderr
            .lines()
            .any(|l| l.starts_with("run ") && l.contains("manifest")),
        "the summary's headline"
    );
    assert!(
        p.stderr.contains("  reconciled: "),
        "the summary's last line"
    );
}

#[test]
fn logs_are_json_lines_when_stderr_is_not_a_terminal() {
    let ws = Workspace::new();
    let pipeline = ws.dir.path().join("broken.toml");
    std::fs::write(
        &pipeline,
        "[pipeline]\nname = \"t\"\n[store]\nurl = \"lake\"\n[[sources]]\ntype = \"sen2_xml\"\nname = \"s\"\n",
    )
    .unwrap();
    let p = run_binary(
        ws.dir.path(),
        &["run", &pipeline.display().to_string()],
        &[],
    );
    assert_eq!(p.code, 2, "{}", p.stderr);
    assert!(!p.stderr.trim().is_empty());
    for line in p.stderr.lines().filter(|l| !l.trim().is_empty()) {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(event["level"], "ERROR", "{line}");
        assert!(
            event["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("broken.toml"))
        );
    }
}
