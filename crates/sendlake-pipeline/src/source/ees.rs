//! The DfE's explore education statistics API (`type = "ees"`): the connector in
//! `sendlake-ees` walks each configured data set's query into records; a bad row is
//! quarantined, a data set that cannot be read fails the source.

use futures::{StreamExt, pin_mut};

use super::stream::{LinkCache, StreamLoad, client, staged};
use super::{RunContext, SourceFailed, StagedSource};
use crate::sources::{DeclaredSource, EesSourceDef};

/// Stages every stream of an EES source.
pub(super) async fn stage(
    cx: &RunContext<'_>,
    src: &DeclaredSource,
    def: &EesSourceDef,
) -> Result<StagedSource, SourceFailed> {
    let name = def.name.as_str();
    let client = client(cx, src, name, &def.http)?;
    let ees = sendlake_ees::EesSource::new(client, def.ees.clone())
        .map_err(|e| SourceFailed::configuration(e.to_string()))?;
    let mut streams = Vec::with_capacity(def.streams.len());
    let mut links = LinkCache::default();
    for stream in &def.streams {
        let mut load =
            StreamLoad::new(cx, name, &stream.name, &stream.mapping, true, &mut links).await?;
        cx.progress
            .phase(&format!("reading {name}/{}", stream.name));
        let records = ees.records();
        pin_mut!(records);
        while let Some(item) = records.next().await {
            match item {
                Ok(record) => load.record(record)?,
                Err(e) if e.kind() == sendlake_ees::EesErrorKind::Row => {
                    load.reader_error(&e.to_record_error());
                }
                Err(e) => {
                    return Err(SourceFailed::partner(format!(
                        "stream {}: {e}",
                        stream.name
                    )));
                }
            }
        }
        streams.push(load.finish()?);
    }
    Ok(staged(super::entry_of(src), streams))
}
