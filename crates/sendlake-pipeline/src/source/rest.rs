//! Partner REST APIs (`type = "rest"`): each stream walks its endpoint's pages, from the
//! committed cursor when it is incremental, with tombstones when the partner flags deletes.

use futures::{StreamExt, pin_mut};
use sendlake_extract::records::json_records;

use super::stream::{LinkCache, StreamLoad, client, staged};
use super::{RunContext, SourceFailed, StagedSource};
use crate::sources::{DeclaredSource, RestSourceDef};

/// Stages every stream of a REST source.
pub(super) async fn stage(
    cx: &RunContext<'_>,
    src: &DeclaredSource,
    def: &RestSourceDef,
) -> Result<StagedSource, SourceFailed> {
    let name = def.name.as_str();
    let client = client(cx, src, name, &def.http)?;
    let mut streams = Vec::with_capacity(def.streams.len());
    let mut links = LinkCache::default();
    for stream in &def.streams {
        let mut load =
            StreamLoad::new(cx, name, &stream.name, &stream.mapping, true, &mut links).await?;
        load.deletes_flag = stream.deletes.as_ref().map(|d| d.flag.clone());
        let mut query: Vec<(String, String)> = stream
            .query
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(inc) = &stream.incremental
            && let Some(since) = load.incremental(inc).await?
        {
            query.push((inc.param.clone(), since));
        }
        cx.progress
            .phase(&format!("reading {name}/{}", stream.name));
        let pages = client.pages(&stream.path, &query);
        pin_mut!(pages);
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| SourceFailed::partner(format!("stream {}: {e}", stream.name)))?;
            load.entry.records.pages += 1;
            let prefix = format!("page {} ", page.index + 1);
            for record in json_records(&page.url, &prefix, page.records) {
                load.record(record)?;
            }
        }
        streams.push(load.finish()?);
    }
    Ok(staged(super::entry_of(src), streams))
}
