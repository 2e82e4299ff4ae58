//! A `BufRead` adapter that knows where it is: line, column, UTF-8 validity, size caps.
//!
//! Why an adapter rather than asking the parser: quick-xml reports byte offsets only, and
//! turning an offset back into a line and column would mean keeping the file or an index of
//! line starts. Instead the parser reads through [`PosReader`], which owns the read buffer,
//! and positions are counted over that buffer.
//!
//! It is built for speed because every byte of a 1.5 GB file passes through it:
//! - UTF-8 is validated once per buffer fill (64 KiB at a time, SIMD-fast in `std`), not per
//!   parser call. The first invalid byte's offset is remembered and reported once the parser
//!   has consumed it.
//! - Line ends are indexed once per fill, eight bytes at a time, and the next non-ASCII byte
//!   is looked up the same way; counting up to a point is then a few comparisons per line.
//! - Positions are computed lazily: [`PosReader::mark_event`] notes the byte offset where
//!   the next event starts (quick-xml consumes exactly up to the end of each event and never
//!   beyond it, so that is the event's first byte), and [`Locate::event_position`] turns it
//!   into a line and column only when asked: for start tags, for the first text of a value,
//!   and for errors. End tags and the whitespace between tags never ask. `consume`, called
//!   several times per event, does no work at all.
//! - The buffer handed to the parser is cut at the per-event size cap, so the parser can never
//!   buffer an unbounded run of text (a 1 GB file without a single `<`).
//!
//! This module is format-neutral: a future CSV or JSON source can sit on the same adapter.

use std::io::{self, BufRead, Read};

use crate::Position;

/// Size of our own read buffer. Large enough that `BufReader<File>` hands reads straight
/// through to the file instead of copying via its own 8 KiB buffer.
const BUF_SIZE: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// What the first significant bytes of the input look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// End of input before any non-whitespace byte; `bool` is whether there was any byte.
    Empty { had_bytes: bool },
    /// UTF-16 text (by BOM or by the `<\0` / `\0<` pattern).
    Utf16,
    /// The first non-whitespace byte, which has not been consumed.
    First(u8),
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
const LOW_BITS: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const NEWLINES: u64 = 0x0A0A_0A0A_0A0A_0A0A;

/// Appends `offset + i` to `out` for every `\n` at `bytes[i]`, eight bytes at a time.
fn index_newlines(bytes: &[u8], offset: usize, out: &mut Vec<usize>) {
    let mut words = bytes.chunks_exact(8);
    let mut at = offset;
    for word in &mut words {
        if let Ok(word) = <[u8; 8]>::try_from(word) {
            let x = u64::from_le_bytes(word) ^ NEWLINES;
            // The high bit of each byte of `x` that is zero, i.e. of each `\n`. Exact per
            // byte: `(x & LOW_BITS) + LOW_BITS` cannot carry into the next byte.
            let mut hits = !(((x & LOW_BITS) + LOW_BITS) | x) & HIGH_BITS;
            while hits != 0 {
                out.push(at + (hits.trailing_zeros() / 8) as usize);
                hits &= hits - 1;
            }
        }
        at += 8;
    }
    let tail = words.remainder();
    out.extend(
        tail.iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .map(|(i, _)| at + i),
    );
}

/// Index of the first byte >= 0x80, eight bytes at a time.
fn find_non_ascii(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        if let Ok(word) = <[u8; 8]>::try_from(word) {
            let high = u64::from_le_bytes(word) & HIGH_BITS;
            if high != 0 {
                return Some(at + (high.trailing_zeros() / 8) as usize);
            }
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b >= 0x80)
        .map(|i| at + i)
}

/// Gives the position of the current event's first byte, computed on demand.
pub(crate) trait Locate {
    fn event_position(&mut self) -> Position;
}

/// Length of the UTF-8 sequence that `lead` starts. Only called on a lead byte that
/// `from_utf8` accepted as the start of an incomplete sequence, so never 1 in practice.
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// Characters in `bytes`: every byte that is not a UTF-8 continuation byte (`0b10xx_xxxx`).
fn chars(bytes: &[u8]) -> u32 {
    let n = bytes.iter().filter(|&&b| (b as i8) >= -0x40).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The adapter. See the module docs.
#[derive(Debug)]
pub(crate) struct PosReader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// `buf[pos..filled]` is read but not consumed.
    pos: usize,
    filled: usize,
    eof: bool,
    /// Absolute offset of `buf[0]` in the input.
    base: u64,
    /// `line` and `col` (0-based characters) describe `buf[counted]`.
    counted: usize,
    line: u32,
    col: u32,
    /// Offsets in `buf` of every `\n`, found once per fill, and the first one not yet
    /// counted. Counting up to a point is then a few comparisons per line instead of a look
    /// at every byte.
    newlines: Vec<usize>,
    next_newline: usize,
    /// No byte in `buf[counted..next_non_ascii]` is non-ASCII, so columns there are byte
    /// differences. May be too low (then it is recomputed), never too high.
    next_non_ascii: usize,
    /// An incomplete UTF-8 sequence at the end of the last chunk, waiting for the next one.
    carry: [u8; 4],
    carry_len: usize,
    carry_at: u64,
    carry_pos: Option<Position>,
    /// First invalid UTF-8 byte (absolute offset), once found, and its position once counted.
    bad_at: Option<u64>,
    bad_pos: Option<Position>,
    /// Where the current event started (absolute), and how far into `buf` the parser may
    /// be offered bytes: `min(filled, event_start + event_cap + 1 - base)`. The `+ 1` lets
    /// an oversized event be detected rather than silently cut.
    event_start: u64,
    /// The position of `event_start`, once computed.
    event_pos: Option<Position>,
    end: usize,
    event_cap: u64,
    cap_hit: bool,
}

impl<R: Read> PosReader<R> {
    pub(crate) fn new(inner: R, event_cap: u64) -> Self {
        Self {
            inner,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            filled: 0,
            eof: false,
            base: 0,
            counted: 0,
            line: 1,
            col: 0,
            newlines: Vec::with_capacity(BUF_SIZE / 16),
            next_newline: 0,
            next_non_ascii: 0,
            carry: [0; 4],
            carry_len: 0,
            carry_at: 0,
            carry_pos: None,
            bad_at: None,
            bad_pos: None,
            event_start: 0,
            event_pos: None,
            end: 0,
            event_cap,
            cap_hit: false,
        }
    }

    pub(crate) fn set_event_cap(&mut self, cap: u64) {
        self.event_cap = cap;
        self.update_end();
    }

    fn update_end(&mut self) {
        let limit = self
            .event_start
            .saturating_add(self.event_cap)
            .saturating_add(1);
        let limit = usize::try_from(limit.saturating_sub(self.base)).unwrap_or(usize::MAX);
        self.end = limit.min(self.filled);
    }

    /// Position of the next unconsumed byte.
    pub(crate) fn position(&mut self) -> Position {
        self.count_to(self.pos);
        Position {
            line: self.line,
            column: self.col.saturating_add(1),
        }
    }

    /// Bytes consumed so far, BOM included.
    pub(crate) fn consumed(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Starts counting the bytes of a new event against the cap.
    pub(crate) fn mark_event(&mut self) {
        self.event_start = self.consumed();
        self.event_pos = None;
        // `end` is not moved here: the old limit came from an earlier event start, so it is
        // lower than the new one, never higher; `fill_buf` raises it when it is reached.
    }

    /// Whether the last failure came from the per-event cap.
    pub(crate) fn cap_hit(&self) -> bool {
        self.cap_hit
    }

    pub(crate) fn event_cap(&self) -> u64 {
        self.event_cap
    }

    /// Position of the first invalid UTF-8 byte, if the parser has consumed it.
    pub(crate) fn utf8_error(&mut self) -> Option<Position> {
        let bad = self.bad_at?;
        if bad >= self.consumed() {
            return None;
        }
        // Counting up to the consumed point records the position if it is in this buffer;
        // if it was in an earlier one, it was recorded when that buffer was counted.
        self.count_to(self.pos);
        Some(self.bad_pos.unwrap_or(Position {
            line: self.line,
            column: self.col + 1,
        }))
    }

    /// Whether every byte of the input has been read and consumed.
    pub(crate) fn at_eof(&self) -> bool {
        self.eof && self.pos == self.filled
    }

    /// Counts lines and columns up to `buf[end]`, recording the positions of the watched
    /// offsets (an invalid byte, the start of a pending sequence) on the way.
    fn count_to(&mut self, end: usize) {
        if end <= self.counted {
            return;
        }
        if self.bad_at.is_none() && self.carry_len == 0 {
            // The common case: nothing to watch for.
            self.advance_to(end);
            return;
        }
        let (from, to) = (self.base + self.counted as u64, self.base + end as u64);
        let watch = |at: u64, known: bool| (!known && (from..to).contains(&at)).then_some(at);
        let bad = self.bad_at.and_then(|at| watch(at, self.bad_pos.is_some()));
        let carry = watch(
            self.carry_at,
            self.carry_len == 0 || self.carry_pos.is_some(),
        );
        let mut watches = [bad, carry];
        watches.sort_unstable();
        for at in watches.into_iter().flatten() {
            let idx = usize::try_from(at - self.base).unwrap_or(end).min(end);
            if idx > self.counted {
                self.advance_to(idx);
            }
            let pos = Position {
                line: self.line,
                column: self.col.saturating_add(1),
            };
            if Some(at) == bad {
                self.bad_pos = Some(pos);
            } else {
                self.carry_pos = Some(pos);
            }
        }
        self.advance_to(end);
    }

    /// Moves the line/column count from `counted` to `end` (which must not be before it).
    #[inline]
    fn advance_to(&mut self, end: usize) {
        let mut from = self.counted;
        while let Some(&nl) = self.newlines.get(self.next_newline) {
            if nl >= end {
                break;
            }
            self.line = self.line.saturating_add(1);
            self.col = 0;
            from = nl + 1;
            self.next_newline += 1;
        }
        // Most events are ASCII even in a chunk that is not (a name with an accent).
        let chars = if end <= self.next_non_ascii {
            u32::try_from(end - from).unwrap_or(u32::MAX)
        } else {
            let rest = &self.buf[end..self.filled];
            self.next_non_ascii = end + find_non_ascii(rest).unwrap_or(rest.len());
            chars(&self.buf[from..end])
        };
        self.col = self.col.saturating_add(chars);
        self.counted = end;
    }

    /// Validates `buf[from..to]`, just read, continuing a sequence left incomplete by the
    /// previous chunk.
    fn validate(&mut self, from: usize, to: usize) {
        if self.bad_at.is_some() {
            return;
        }
        let mut start = from;
        if self.carry_len > 0 {
            let width = utf8_width(self.carry[0]);
            let take = (width - self.carry_len).min(to - from);
            self.carry[self.carry_len..self.carry_len + take]
                .copy_from_slice(&self.buf[from..from + take]);
            self.carry_len += take;
            start += take;
            if self.carry_len < width {
                return;
            }
            self.carry_len = 0;
            if std::str::from_utf8(&self.carry[..width]).is_err() {
                self.bad_at = Some(self.carry_at);
                self.bad_pos = self.carry_pos;
                return;
            }
        }
        if let Err(e) = std::str::from_utf8(&self.buf[start..to]) {
            let at = start + e.valid_up_to();
            let abs = self.base + at as u64;
            if e.error_len().is_some() {
                self.bad_at = Some(abs);
            } else {
                let tail = &self.buf[at..to];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len();
                self.carry_at = abs;
                self.carry_pos = None;
            }
        }
    }

    /// Reads into `buf[filled..]`; at end of input, an incomplete sequence becomes an error.
    fn read_more(&mut self) -> io::Result<()> {
        loop {
            match self.inner.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    if self.carry_len > 0 && self.bad_at.is_none() {
                        self.bad_at = Some(self.carry_at);
                        self.bad_pos = self.carry_pos;
                    }
                    return Ok(());
                }
                Ok(k) => {
                    let from = self.filled;
                    self.filled += k;
                    index_newlines(&self.buf[from..self.filled], from, &mut self.newlines);
                    // What was known ASCII ends where the new bytes start.
                    self.next_non_ascii = self.next_non_ascii.min(from);
                    self.validate(from, self.filled);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Skips a UTF-8 BOM and leading whitespace, and reports what comes next.
    ///
    /// Done by us rather than by quick-xml so that the BOM is never counted as a column and
    /// so that non-XML input is recognised before the parser makes a confusing error of it.
    /// Must be called first, before anything is consumed.
    pub(crate) fn sniff(&mut self) -> io::Result<Sniff> {
        while self.filled < 4 && !self.eof {
            self.read_more()?;
        }
        let head = &self.buf[..self.filled];
        let had_bytes = !head.is_empty();
        if head.starts_with(UTF8_BOM) {
            // Consumed but not counted: editors do not show it as a character.
            self.pos = UTF8_BOM.len();
            self.counted = self.pos;
        } else if head.starts_with(b"\xFE\xFF")
            || head.starts_with(b"\xFF\xFE")
            || head.starts_with(b"<\0")
            || head.starts_with(b"\0<")
        {
            return Ok(Sniff::Utf16);
        }
        loop {
            let available = self.fill_buf()?;
            if available.is_empty() {
                return Ok(Sniff::Empty { had_bytes });
            }
            let first = available
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
            let skip = first.unwrap_or(available.len());
            let next = first.map(|i| available[i]);
            self.consume(skip);
            // Leading whitespace is not an event: it must not trip the event cap.
            self.mark_event();
            if let Some(byte) = next {
                return Ok(Sniff::First(byte));
            }
        }
    }
}

impl<R: Read> Locate for PosReader<R> {
    fn event_position(&mut self) -> Position {
        if let Some(pos) = self.event_pos {
            return pos;
        }
        // Not yet counted past: positions are only asked for in document order, and a
        // refill records the event's position before discarding its bytes.
        let idx = self.event_start.saturating_sub(self.base);
        let idx = usize::try_from(idx)
            .unwrap_or(self.counted)
            .clamp(self.counted, self.filled);
        self.count_to(idx);
        let pos = Position {
            line: self.line,
            column: self.col.saturating_add(1),
        };
        self.event_pos = Some(pos);
        pos
    }
}

impl<R: Read> Read for PosReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for PosReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // Fast path: quick-xml calls this several times per event.
        if self.pos < self.end {
            return Ok(&self.buf[self.pos..self.end]);
        }
        if self.consumed() - self.event_start > self.event_cap {
            // Refusing more input is the only way to stop quick-xml from growing its event
            // buffer; it surfaces as an I/O error that the reader maps to `TooLarge`.
            self.cap_hit = true;
            return Err(io::Error::other("event size cap exceeded"));
        }
        if self.pos == self.filled && !self.eof {
            // Count what is about to be discarded, then start a fresh buffer. The current
            // event may have started in it: keep its position before the bytes go.
            if self.event_pos.is_none() && self.event_start >= self.base + self.counted as u64 {
                self.event_position();
            }
            self.count_to(self.filled);
            self.base += self.filled as u64;
            self.pos = 0;
            self.filled = 0;
            self.counted = 0;
            self.newlines.clear();
            self.next_newline = 0;
            self.next_non_ascii = 0;
            self.read_more()?;
        }
        // Never offer more than the cap allows, so that an event cannot exceed it inside one
        // buffer without asking for more.
        self.update_end();
        Ok(&self.buf[self.pos..self.end.max(self.pos)])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = self.pos.saturating_add(amt).min(self.filled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per `read`, to split every multi-byte sequence.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || out.is_empty() {
                return Ok(0);
            }
            out[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    /// Consumes everything, asking for the position after every `step` bytes (as the reader
    /// does between events), and returns the final position.
    fn drain<R: Read>(r: &mut PosReader<R>, step: usize) -> Position {
        loop {
            let n = r.fill_buf().unwrap().len().min(step);
            if n == 0 {
                return r.position();
            }
            r.consume(n);
            r.position();
        }
    }

    #[test]
    fn counts_lines_and_characters() {
        for step in [1, 3, usize::MAX] {
            let mut r = PosReader::new("ab\r\nZoë 😀x".as_bytes(), u64::MAX);
            assert_eq!(drain(&mut r, step), Position { line: 2, column: 7 });
            assert_eq!(r.utf8_error(), None);
        }
        let mut r = PosReader::new(Trickle("a\nbc\n\nd€".as_bytes()), u64::MAX);
        assert_eq!(drain(&mut r, 1), Position { line: 4, column: 3 });
    }

    #[test]
    fn validates_split_sequences() {
        let mut r = PosReader::new(Trickle("é😀ł".as_bytes()), u64::MAX);
        assert_eq!(drain(&mut r, 2), Position { line: 1, column: 4 });
        assert_eq!(r.utf8_error(), None);

        // An incomplete euro sign interrupted by `x`, split over one-byte reads.
        let mut r = PosReader::new(Trickle(b"ab\ncd\xE2\x82x"), u64::MAX);
        drain(&mut r, 1);
        assert_eq!(r.utf8_error(), Some(Position { line: 2, column: 3 }));

        let mut r = PosReader::new(&b"a\xFFb"[..], u64::MAX);
        drain(&mut r, usize::MAX);
        assert_eq!(r.utf8_error(), Some(Position { line: 1, column: 2 }));

        // Cut at the end of input.
        let mut r = PosReader::new(&b"ab\xE2\x82"[..], u64::MAX);
        drain(&mut r, usize::MAX);
        assert_eq!(r.utf8_error(), Some(Position { line: 1, column: 3 }));
    }

    #[test]
    fn an_invalid_byte_is_reported_only_once_consumed() {
        let mut r = PosReader::new(&b"abc\xFF"[..], u64::MAX);
        assert_eq!(r.fill_buf().unwrap().len(), 4);
        r.consume(3);
        assert_eq!(r.utf8_error(), None, "not consumed yet");
        r.consume(1);
        assert_eq!(r.utf8_error(), Some(Position { line: 1, column: 4 }));
    }

    #[test]
    fn invalid_bytes_are_found_across_buffer_refills() {
        let mut data = vec![b'a'; BUF_SIZE - 1];
        data.push(b'\n');
        data.extend_from_slice(b"xy\xC3"); // incomplete at the end of the second buffer...
        data.extend(std::iter::repeat_n(b'b', BUF_SIZE - 3 - 1));
        data.push(b'z'); // ...completed by a non-continuation byte in the third
        let mut r = PosReader::new(&data[..], u64::MAX);
        drain(&mut r, 7);
        assert_eq!(r.utf8_error(), Some(Position { line: 2, column: 3 }));
    }

    #[test]
    fn sniff_skips_bom_and_whitespace() {
        let mut r = PosReader::new(Trickle(b"\xEF\xBB\xBF \r\n <a/>"), u64::MAX);
        assert_eq!(r.sniff().unwrap(), Sniff::First(b'<'));
        assert_eq!(r.position(), Position { line: 2, column: 2 });
        assert_eq!(r.consumed(), 7);

        let mut r = PosReader::new(&b""[..], u64::MAX);
        assert_eq!(r.sniff().unwrap(), Sniff::Empty { had_bytes: false });
        let mut r = PosReader::new(&b" \n "[..], u64::MAX);
        assert_eq!(r.sniff().unwrap(), Sniff::Empty { had_bytes: true });
        let mut r = PosReader::new(&b"\xFF\xFE<\0"[..], u64::MAX);
        assert_eq!(r.sniff().unwrap(), Sniff::Utf16);
        let mut r = PosReader::new(&b"a,b"[..], u64::MAX);
        assert_eq!(r.sniff().unwrap(), Sniff::First(b'a'));
    }

    #[test]
    fn cap_limits_what_is_offered_and_then_refuses() {
        let data = vec![b'x'; BUF_SIZE * 3];
        let mut r = PosReader::new(&data[..], 100);
        r.mark_event();
        let n = r.fill_buf().unwrap().len();
        assert_eq!(n, 101, "cut at the cap plus one byte");
        r.consume(n);
        assert!(r.fill_buf().is_err());
        assert!(r.cap_hit());
        r.mark_event();
        assert!(r.fill_buf().is_ok());
    }
}
