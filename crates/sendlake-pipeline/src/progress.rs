//! Where a run's progress goes: a progress bar on a terminal, nothing otherwise.

/// Where progress goes (a progress bar on a terminal, nothing otherwise).
pub trait Progress: Send + Sync {
    /// A file of `bytes` bytes is starting.
    fn file_started(&self, _name: &str, _bytes: u64) {}
    /// `bytes` more bytes of the current file were read.
    fn advance(&self, _bytes: u64) {}
    /// The current file is done.
    fn file_finished(&self) {}
    /// A phase message ("committing person").
    fn phase(&self, _message: &str) {}
}

/// No progress output.
#[derive(Debug, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}
