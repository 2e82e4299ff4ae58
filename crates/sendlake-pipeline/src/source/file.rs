//! Partner files (`type = "file"`): each stream reads the files matching its pattern in the
//! source's folder (CSV, JSON lines, Excel) as one snapshot, or file by file.

use sendlake_extract::discover_files;
use sendlake_extract::records::RecordErrorKind;

use super::stream::{LinkCache, StreamLoad, staged};
use super::{RunContext, SourceFailed, StagedSource};
use crate::sources::{DeclaredSource, FileReplace, FileSourceDef};

/// Stages every stream of a file source.
pub(super) async fn stage(
    cx: &RunContext<'_>,
    src: &DeclaredSource,
    def: &FileSourceDef,
) -> Result<StagedSource, SourceFailed> {
    let name = def.name.as_str();
    let mut streams = Vec::with_capacity(def.streams.len());
    let mut links = LinkCache::default();
    for stream in &def.streams {
        let mut load =
            StreamLoad::new(cx, name, &stream.name, &stream.mapping, false, &mut links).await?;
        load.replace_by_file = stream.replace == FileReplace::File;
        let files = discover_files(&def.path, &stream.pattern).map_err(|e| {
            SourceFailed::environment(format!(
                "stream {}: cannot list {}: {e}",
                stream.name,
                def.path.display()
            ))
        })?;
        if files.is_empty() {
            // An empty folder is a delivery that did not arrive, not an empty register:
            // replacing the stream with nothing would delete its last good data.
            return Err(SourceFailed::partner(format!(
                "stream {}: no file in {} matches `{}`",
                stream.name,
                def.path.display(),
                stream.pattern
            )));
        }
        let format = stream.format.format();
        for path in files {
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            cx.progress
                .phase(&format!("reading {name}/{} {file_name}", stream.name));
            load.files_seen.insert(file_name.clone());
            let mut file_ok = true;
            for item in format.open(&path) {
                match item {
                    Ok(record) => load.record(record)?,
                    Err(e) => {
                        if e.kind == RecordErrorKind::File {
                            file_ok = false;
                        }
                        load.reader_error(&e);
                    }
                }
            }
            if file_ok {
                load.files_ok.insert(file_name);
            } else if !load.replace_by_file {
                // A snapshot with a file missing is not a snapshot: keep the last one.
                return Err(SourceFailed::partner(format!(
                    "stream {}: file {file_name} could not be read, and the stream's files are one snapshot (replace = \"all\")",
                    stream.name
                )));
            }
        }
        streams.push(load.finish()?);
    }
    Ok(staged(super::entry_of(src), streams))
}
