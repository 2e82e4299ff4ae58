//! Logging and progress: log lines (human or JSON) over stderr, above the progress bar the
//! run's [`Progress`] events draw; other crates' DEBUG and TRACE events are never logged.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sendlake_pipeline::Progress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Human,
    Json,
}

/// Progress bars over stderr; log lines are printed above the bar, not through it.
#[derive(Clone, Default)]
pub(crate) struct Bars {
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl Bars {
    fn suspend<F: FnOnce()>(&self, f: F) {
        let guard = self.bar.lock().ok();
        match guard.as_ref().and_then(|g| g.as_ref()) {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }
}

/// One bar over all files being read (files of different submissions load in parallel), cleared
/// when the run moves on to committing.
impl Progress for Bars {
    fn file_started(&self, name: &str, bytes: u64) {
        let Ok(mut g) = self.bar.lock() else { return };
        match g.as_ref() {
            Some(bar) => bar.inc_length(bytes),
            None => {
                let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                *g = Some(bar);
            }
        }
        if let Some(bar) = g.as_ref() {
            bar.set_message(name.to_owned());
        }
    }
    fn advance(&self, bytes: u64) {
        if let Ok(g) = self.bar.lock()
            && let Some(b) = g.as_ref()
        {
            b.inc(bytes);
        }
    }
    fn phase(&self, message: &str) {
        if let Ok(mut g) = self.bar.lock()
            && let Some(b) = g.take()
        {
            b.finish_and_clear();
        }
        self.suspend(|| eprintln!("  {message}"));
    }
}

/// A tracing writer that prints to stderr without tearing the progress bar.
pub(crate) struct BarWriter {
    bars: Bars,
    buf: Vec<u8>,
}

impl std::io::Write for BarWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for BarWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.bars.suspend(|| eprint!("{text}"));
    }
}

impl<'a> MakeWriter<'a> for Bars {
    type Writer = BarWriter;
    fn make_writer(&'a self) -> BarWriter {
        BarWriter {
            bars: self.clone(),
            buf: Vec::new(),
        }
    }
}

/// Whether an event or span may be logged at all, whatever `--log` asks for: other crates' only
/// at INFO and above, because at DEBUG and TRACE the Delta kernel and DataFusion print log
/// actions with column statistics, row batches and plans with literal values, and here those
/// are children's personal data (the quarantine's raw values among them). sendlake's own
/// crates never log a value from the input, at any level.
fn may_log(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("sendlake") || *meta.level() <= tracing::Level::INFO
}

/// Installs the log subscriber: `format` (else human on a terminal, JSON lines otherwise),
/// `filter` (`--log`), written above the progress bars. Returns the format chosen.
pub(crate) fn init(format: Option<LogFormat>, filter: &str, bars: &Bars) -> LogFormat {
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Human
    } else {
        LogFormat::Json
    });
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer().with_writer(bars.clone());
    let layer = match format {
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
        // Colours only for a terminal: escape codes in a file or pipe are noise.
        LogFormat::Human => layer
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
    };
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::filter::filter_fn(may_log))
        .with(layer)
        .try_init();
    if let Err(e) = result {
        eprintln!("warning: logging not initialised: {e}");
    }
    format
}
