//! Throughput of the SEN2 reader on a synthetic in-memory file.
//!
//! ```text
//! cargo run --release -p sendlake-extract --example parse_bench -- [persons] [rounds]
//! # instruction counts, stable on a busy machine:
//! MODE=sen2 valgrind --tool=callgrind target/release/examples/parse_bench 10000
//! MODE=raw  valgrind --tool=callgrind target/release/examples/parse_bench 10000
//! ```
//!
//! Builds a file of `persons` (default 100 000) records shaped like the third-party mock
//! (CRLF, tab indentation, alternating a full record of about 3.3 KB and a short one of about
//! 1.2 KB, so about 2.2 KB per person: the national file of ~700 000 persons is 1–1.5 GB),
//! then reports MB/s for the raw quick-xml event loop (the floor) and for `Sen2Reader`,
//! timed by thread CPU time where Linux provides it (a busy machine skews wall time).

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::hint::black_box;

use quick_xml::Reader;
use quick_xml::events::Event;
use sendlake_extract::{Sen2Item, Sen2Reader};

#[path = "../../../bench/timing.rs"]
mod timing;
use timing::{thread_cpu_secs, timed};

const HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Message>\r\n\t<Header>\r\n\
\t\t<CollectionDetails>\r\n\t\t\t<Collection>SEN2</Collection>\r\n\t\t\t<Year>2024</Year>\r\n\
\t\t\t<ReferenceDate>2024-01-18</ReferenceDate>\r\n\t\t</CollectionDetails>\r\n\t\t<Source>\r\n\
\t\t\t<SourceLevel>L</SourceLevel>\r\n\t\t\t<LEA>919</LEA>\r\n\t\t\t<DMO>Y</DMO>\r\n\t\t\t<DCO>Y</DCO>\r\n\
\t\t</Source>\r\n\t</Header>\r\n\t<Persons>\r\n";

const FOOTER: &str = "\t</Persons>\r\n</Message>\r\n";

fn full_person(i: usize) -> String {
    format!(
        "\t\t<Person>\r\n\
\t\t\t<Surname>Family{i}</Surname>\r\n\t\t\t<Forename>Zoë{i}</Forename>\r\n\
\t\t\t<PersonBirthDate>2012-01-01</PersonBirthDate>\r\n\t\t\t<Sex>M</Sex>\r\n\
\t\t\t<Ethnicity>WBRI</Ethnicity>\r\n\t\t\t<PostCode>AL1 {i:04}</PostCode>\r\n\
\t\t\t<UPN>A{i:012}</UPN>\r\n\t\t\t<UniqueLearnerNumber>12345{i:05}</UniqueLearnerNumber>\r\n\
\t\t\t<UPNunknown></UPNunknown>\r\n\
\t\t\t<Requests>\r\n\t\t\t\t<ReceivedDate>2023-11-30</ReceivedDate>\r\n\t\t\t\t<RYA>0</RYA>\r\n\
\t\t\t\t<RequestOutcomeDate>2023-12-01</RequestOutcomeDate>\r\n\t\t\t\t<RequestOutcome>Y</RequestOutcome>\r\n\
\t\t\t\t<RequestMediation>0</RequestMediation>\r\n\t\t\t\t<RequestTribunal>0</RequestTribunal>\r\n\
\t\t\t\t<Exported></Exported>\r\n\
\t\t\t\t<Assessment>\r\n\t\t\t\t\t<AssessmentOutcome>Y</AssessmentOutcome>\r\n\
\t\t\t\t\t<AssessmentOutcomeDate>2023-12-25</AssessmentOutcomeDate>\r\n\
\t\t\t\t\t<AssessmentMediation>0</AssessmentMediation>\r\n\t\t\t\t\t<AssessmentTribunal>0</AssessmentTribunal>\r\n\
\t\t\t\t\t<OtherMediation>0</OtherMediation>\r\n\t\t\t\t\t<OtherTribunal>0</OtherTribunal>\r\n\
\t\t\t\t\t<Week20>0</Week20>\r\n\
\t\t\t\t\t<NamedPlan>\r\n\t\t\t\t\t\t<StartDate>2023-12-26</StartDate>\r\n\
\t\t\t\t\t\t<PlanDetail>\r\n\t\t\t\t\t\t\t<URN>123456</URN>\r\n\t\t\t\t\t\t\t<UKPRN></UKPRN>\r\n\
\t\t\t\t\t\t\t<SENSetting>OTH</SENSetting>\r\n\t\t\t\t\t\t\t<SENSettingOther></SENSettingOther>\r\n\
\t\t\t\t\t\t\t<PlacementRank>1</PlacementRank>\r\n\t\t\t\t\t\t\t<SENunitIndicator>0</SENunitIndicator>\r\n\
\t\t\t\t\t\t\t<ResourcedProvisionIndicator>0</ResourcedProvisionIndicator>\r\n\
\t\t\t\t\t\t</PlanDetail>\r\n\t\t\t\t\t\t<PlanRes></PlanRes>\r\n\t\t\t\t\t\t<PB>0</PB>\r\n\
\t\t\t\t\t</NamedPlan>\r\n\t\t\t\t</Assessment>\r\n\
\t\t\t\t<ActivePlans>\r\n\t\t\t\t\t<TransferLA></TransferLA>\r\n\
\t\t\t\t\t<PlacementDetail>\r\n\t\t\t\t\t\t<URN>123456</URN>\r\n\t\t\t\t\t\t<UKPRN></UKPRN>\r\n\
\t\t\t\t\t\t<SENSetting></SENSetting>\r\n\t\t\t\t\t\t<PlacementRank>1</PlacementRank>\r\n\
\t\t\t\t\t\t<EntryDate>2024-01-01</EntryDate>\r\n\t\t\t\t\t\t<SENunitIndicator>0</SENunitIndicator>\r\n\
\t\t\t\t\t\t<ResourcedProvisionIndicator>0</ResourcedProvisionIndicator>\r\n\
\t\t\t\t\t</PlacementDetail>\r\n\
\t\t\t\t\t<SENneed>\r\n\t\t\t\t\t\t<SENtype>ASD</SENtype>\r\n\t\t\t\t\t\t<SENtypeRank>1</SENtypeRank>\r\n\t\t\t\t\t</SENneed>\r\n\
\t\t\t\t\t<SENneed>\r\n\t\t\t\t\t\t<SENtype>SLCN</SENtype>\r\n\t\t\t\t\t\t<SENtypeRank>2</SENtypeRank>\r\n\t\t\t\t\t</SENneed>\r\n\
\t\t\t\t\t<ReviewMeeting>2024-01-09</ReviewMeeting>\r\n\t\t\t\t\t<ReviewOutcome>M</ReviewOutcome>\r\n\
\t\t\t\t</ActivePlans>\r\n\t\t\t</Requests>\r\n\t\t</Person>\r\n"
    )
}

fn short_person(i: usize) -> String {
    format!(
        "\t\t<Person>\r\n\
\t\t\t<Surname>Refused{i}</Surname>\r\n\t\t\t<Forename>Łukasz</Forename>\r\n\
\t\t\t<PersonBirthDate>2015-11-11</PersonBirthDate>\r\n\t\t\t<Sex>F</Sex>\r\n\
\t\t\t<Ethnicity>BAFR</Ethnicity>\r\n\t\t\t<PostCode>SG1 1AA</PostCode>\r\n\
\t\t\t<UPN>B{i:012}</UPN>\r\n\t\t\t<UPNunknown/>\r\n\
\t\t\t<Requests>\r\n\t\t\t\t<ReceivedDate>2023-08-31</ReceivedDate>\r\n\t\t\t\t<RYA>0</RYA>\r\n\
\t\t\t\t<RequestOutcomeDate>2023-10-01</RequestOutcomeDate>\r\n\t\t\t\t<RequestOutcome>N</RequestOutcome>\r\n\
\t\t\t\t<RequestMediation>0</RequestMediation>\r\n\t\t\t\t<RequestTribunal>0</RequestTribunal>\r\n\
\t\t\t</Requests>\r\n\t\t</Person>\r\n"
    )
}

fn build(persons: usize) -> Vec<u8> {
    let mut s = String::with_capacity(persons * 2300 + 1024);
    s.push_str(HEADER);
    for i in 0..persons {
        s.push_str(&if i % 2 == 0 {
            full_person(i)
        } else {
            short_person(i)
        });
    }
    s.push_str(FOOTER);
    s.into_bytes()
}

/// The floor: quick-xml's event loop alone, with a reused buffer, doing nothing.
fn raw_events(bytes: &[u8]) -> usize {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::with_capacity(4096);
    let mut events = 0;
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => return events,
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn sen2(bytes: &[u8]) -> (u64, usize) {
    let mut persons = 0;
    let mut leaves = 0;
    for item in Sen2Reader::new(bytes) {
        match item {
            Ok(Sen2Item::Person(p)) => {
                persons += 1;
                leaves += p.element.fields.len();
                black_box(&p);
            }
            Ok(other) => {
                black_box(&other);
            }
            Err(e) => panic!("{e}"),
        }
    }
    (persons, leaves)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let persons: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let bytes = build(persons);
    #[expect(clippy::cast_precision_loss, reason = "sizes are far below 2^52")]
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "{persons} persons, {mb:.1} MB ({} bytes/person)",
        bytes.len() / persons.max(1)
    );
    let clock = if thread_cpu_secs().is_some() {
        "thread CPU time"
    } else {
        "wall time"
    };
    println!("timing by {clock}; best of {rounds} rounds is reported last");

    if let Ok(mode) = std::env::var("MODE") {
        // One pass of one loop, for instruction counting under
        // `valgrind --tool=callgrind` (deterministic, unlike time on a shared machine).
        if mode == "raw" {
            black_box(raw_events(&bytes));
        } else {
            black_box(sen2(&bytes));
        }
        return;
    }
    let mut best_raw = f64::MAX;
    let mut best_sen2 = f64::MAX;
    for round in 1..=rounds {
        let (events, raw) = timed(|| raw_events(&bytes));
        best_raw = best_raw.min(raw);
        let ((n, leaves), ours) = timed(|| sen2(&bytes));
        best_sen2 = best_sen2.min(ours);
        assert_eq!(n, persons as u64);
        println!(
            "round {round}: quick-xml events {:.0} MB/s ({events} events), \
             Sen2Reader {:.0} MB/s ({:.0} persons/s, {leaves} leaves)",
            mb / raw,
            mb / ours,
            f64::from(u32::try_from(n).unwrap_or(u32::MAX)) / ours,
        );
    }
    println!(
        "best: quick-xml floor {:.0} MB/s, Sen2Reader {:.0} MB/s",
        mb / best_raw,
        mb / best_sen2
    );
}
