//! Byte searches for the per-event hot paths (the SSE parser, the usage tap, the framing),
//! a machine word at a time, as the `memchr` crate does, without the dependency. The
//! standard library's `str::find(char)` is word-wise too, but its setup and byte-wise
//! alignment cost more than the search itself on the short lines of a stream (~60-250
//! bytes). A leaf: imports nothing.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The first `byte` in `bytes`: each word XORed with the byte repeated, then the classic
/// zero-byte test, whose lowest flagged byte is exact.
pub fn find(bytes: &[u8], byte: u8) -> Option<usize> {
    let repeated = ONES * u64::from(byte);
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default()) ^ repeated;
        let zero = w.wrapping_sub(ONES) & !w & HIGHS;
        if zero != 0 {
            return Some(at + zero.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|b| *b == byte).map(|i| at + i)
}

/// Where `needle` first occurs in `bytes`, found through `rare`, a byte of the needle at
/// `rare_at` that is rare in the text searched (so few candidates need comparing).
pub fn find_str(bytes: &[u8], needle: &[u8], rare_at: usize) -> Option<usize> {
    let rare = needle[rare_at];
    let mut from = rare_at;
    while from < bytes.len() {
        let hit = from + find(&bytes[from..], rare)?;
        let start = hit - rare_at;
        if bytes[start..].starts_with(needle) {
            return Some(start);
        }
        from = hit + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_byte_at_any_offset() {
        assert_eq!(find(b"", b'\n'), None);
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'x'; len];
                bytes[at] = b'\n';
                if at + 1 < len {
                    bytes[at + 1] = b'\n';
                }
                assert_eq!(find(&bytes, b'\n'), Some(at), "{len} {at}");
                // A byte one above or with the high bit is no match.
                bytes[at] = b'\x0b';
                bytes.iter_mut().skip(at + 1).for_each(|b| *b = 0x8a);
                assert_eq!(find(&bytes, b'\n'), None, "{len} {at}");
            }
            assert_eq!(find(&vec![b'x'; len], b'\n'), None);
        }
    }

    #[test]
    fn finds_a_needle_through_its_rare_byte() {
        for pad in 0..20 {
            let text = format!("{}\"usage\":{{}}", "g".repeat(pad));
            assert_eq!(find_str(text.as_bytes(), b"usage\"", 3), Some(pad + 1));
        }
        assert_eq!(find_str(b"usage", b"usage\"", 3), None);
        assert_eq!(find_str(b"sage\" usag\" gusage", b"usage\"", 3), None);
        assert_eq!(find_str(b"ge\"", b"usage\"", 3), None);
        assert_eq!(
            find_str("\u{e9}g usage\"".as_bytes(), b"usage\"", 3),
            Some(4)
        );
    }
}
