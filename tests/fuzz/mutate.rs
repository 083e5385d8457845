//! Mutations shared by the targets: byte-level (bit flips, boundary integers and floats,
//! inserts, deletes, repeated chunks, splices) and text-level (tokens from a target's
//! dictionary, boundary number literals, line shuffles, deep nesting).

use super::engine::{Pool, Rng};

/// Integers at the edges of what decoders add, multiply and allocate with.
pub const BOUNDARY_U64: [u64; 14] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// Floats that break naive coordinate handling.
pub const BOUNDARY_F64: [f64; 12] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -0.0,
    f64::MAX,
    f64::MIN_POSITIVE,
    5e-324,
    180.0,
    180.000_000_1,
    -90.000_000_1,
    1e15,
    -1e15,
];

/// Number literals for text formats: out of range, exponent overflow, signs, leading zeros.
const BOUNDARY_LITERALS: [&str; 16] = [
    "0",
    "-0",
    "1e400",
    "-1e400",
    "1e-400",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "255",
    "256",
    "-1",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "0.000000000000000000000000000000000001",
];

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

/// Below `small` most of the time, below `big` one time in eight.
fn mostly_small(rng: &mut Rng, small: u64, big: u64) -> u64 {
    let bound = if rng.below(8) == 0 { big } else { small };
    rng.below(bound)
}

fn position(rng: &mut Rng, len: usize) -> usize {
    rng.below(len as u64 + 1) as usize
}

/// One random byte-level change of `input`.
pub fn bytes(rng: &mut Rng, input: &[u8], pool: &Pool) -> Vec<u8> {
    let mut out = input.to_vec();
    let len = out.len();
    match rng.below(10) {
        0 if len > 0 => {
            let i = rng.below(len as u64) as usize;
            out[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len as u64) as usize;
            let random = rng.below(256) as u8;
            out[i] = pick(rng, &[0, 1, 0x7f, 0x80, 0xff, random]);
        }
        2 => {
            // A boundary integer of 1, 2, 4 or 8 bytes, either byte order.
            let width = pick(rng, &[1usize, 2, 4, 8]);
            let value = pick(rng, &BOUNDARY_U64).wrapping_add(pick(rng, &[0u64, 1, u64::MAX]));
            let raw = if rng.below(2) == 0 {
                value.to_le_bytes()
            } else {
                value.to_be_bytes()
            };
            let raw = if rng.below(2) == 0 { &raw[..width] } else { &raw[8 - width..] };
            overwrite(rng, &mut out, raw);
        }
        3 => {
            let value = pick(rng, &BOUNDARY_F64);
            let raw = if rng.below(2) == 0 {
                value.to_le_bytes()
            } else {
                value.to_be_bytes()
            };
            overwrite(rng, &mut out, &raw);
        }
        4 => {
            let at = position(rng, len);
            let n = 1 + rng.below(16) as usize;
            let fill: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
            out.splice(at..at, fill);
        }
        5 if len > 0 => {
            let at = rng.below(len as u64) as usize;
            let n = 1 + rng.below((len - at).min(64) as u64) as usize;
            out.drain(at..at + n);
        }
        6 if len > 0 => {
            // Repeat a chunk: nests headers that a decoder recurses into.
            let at = rng.below(len as u64) as usize;
            let n = 1 + rng.below((len - at).min(256) as u64) as usize;
            let chunk = out[at..at + n].to_vec();
            let times = 1 + mostly_small(rng, 4, 200) as usize;
            for _ in 0..times {
                out.splice(at..at, chunk.iter().copied());
            }
        }
        7 => {
            // Splice: the start of this input and the end of another.
            let other = pool.pick(rng);
            let cut = position(rng, len);
            let from = position(rng, other.len());
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        8 => out.truncate(position(rng, len)),
        _ if len > 0 => {
            let i = rng.below(len as u64) as usize;
            out[i] = out[i].wrapping_add(pick(rng, &[1u8, 255, 16, 240]));
        }
        _ => out.push(rng.below(256) as u8),
    }
    out
}

fn overwrite(rng: &mut Rng, out: &mut Vec<u8>, raw: &[u8]) {
    let at = position(rng, out.len().saturating_sub(raw.len()));
    if out.len() < at + raw.len() {
        out.resize(at + raw.len(), 0);
    }
    out[at..at + raw.len()].copy_from_slice(raw);
}

/// One random text-level change: a dictionary token, a boundary number, a line moved or
/// repeated, or deep nesting of `open`/`close` around a piece; falls back to a byte change.
pub fn text(rng: &mut Rng, input: &[u8], pool: &Pool, tokens: &[&str], nest: (&str, &str)) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(input) else {
        return bytes(rng, input, pool);
    };
    let boundaries: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
    let at = boundaries[rng.below(boundaries.len() as u64) as usize];
    let mut out = String::with_capacity(text.len() + 64);
    match rng.below(6) {
        0 => {
            out.push_str(&text[..at]);
            out.push_str(pick(rng, tokens));
            out.push_str(&text[at..]);
        }
        1 => {
            // Replace the number starting at or after `at` with a boundary literal.
            let rest = &text[at..];
            let Some(start) = rest.find(|c: char| c.is_ascii_digit()) else {
                return bytes(rng, input, pool);
            };
            let len = rest[start..]
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
                .unwrap_or(rest.len() - start);
            out.push_str(&text[..at + start]);
            out.push_str(pick(rng, &BOUNDARY_LITERALS));
            out.push_str(&rest[start + len..]);
        }
        2 | 3 => {
            let mut lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return bytes(rng, input, pool);
            }
            let i = rng.below(lines.len() as u64) as usize;
            let j = rng.below(lines.len() as u64) as usize;
            match rng.below(3) {
                0 => lines.swap(i, j),
                1 => {
                    lines.remove(i);
                }
                _ => lines.insert(j, lines[i]),
            }
            out = lines.join("\n");
        }
        4 => {
            let depth = 1 + mostly_small(rng, 40, 5000) as usize;
            let end = boundaries[rng.below(boundaries.len() as u64) as usize].max(at);
            out.push_str(&text[..at]);
            out.push_str(&nest.0.repeat(depth));
            out.push_str(&text[at..end]);
            out.push_str(&nest.1.repeat(depth));
            out.push_str(&text[end..]);
        }
        _ => return bytes(rng, input, pool),
    }
    out.into_bytes()
}
