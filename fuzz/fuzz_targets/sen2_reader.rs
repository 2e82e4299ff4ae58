//! Feeds arbitrary bytes to `Sen2Reader` and drains it.
//!
//! What it checks, beyond "no panic, no hang, no runaway memory" (libFuzzer's own checks):
//! the iterator ends, yields at most one error and nothing after it, and every error that
//! is not an I/O error carries a position. Each input runs twice: with the default limits,
//! and with small ones so that the `TooLarge` paths are reached on small inputs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sendlake_extract::{ReaderLimits, Sen2FileErrorKind, Sen2Reader};

fuzz_target!(|data: &[u8]| {
    let small = ReaderLimits {
        max_person_nodes: 64,
        max_value_bytes: 256,
        max_depth: 12,
        max_markup_bytes: 2048,
    };
    for limits in [ReaderLimits::default(), small] {
        let mut reader = Sen2Reader::new(data).with_limits(limits);
        let mut items = 0usize;
        while let Some(item) = reader.next() {
            items += 1;
            // Every item needs at least one byte of input (`<` of its element).
            assert!(items <= data.len() + 1, "more items than input bytes");
            if let Err(e) = item {
                assert!(
                    e.pos.is_some() || e.kind == Sen2FileErrorKind::Io,
                    "error without a position: {e:?}"
                );
                let _ = e.to_string();
                assert!(reader.next().is_none(), "the iterator must be fused after an error");
                break;
            }
        }
        assert!(reader.bytes_read() <= data.len() as u64);
    }
});
