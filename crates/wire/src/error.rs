//! The error every view returns: what was wrong and at which byte offset.

/// A malformed or truncated header. `offset` is relative to the start of the buffer handed to the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} at offset {offset}")]
pub struct WireError {
    pub what: &'static str,
    pub offset: usize,
}

impl WireError {
    pub const fn new(what: &'static str, offset: usize) -> Self {
        Self { what, offset }
    }
}

/// Bounds-checked big-endian reads. Every accessor returns an error instead of panicking.
pub(crate) fn be16(buf: &[u8], at: usize) -> Result<u16, WireError> {
    buf.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(WireError::new("truncated u16", at))
}

pub(crate) fn be32(buf: &[u8], at: usize) -> Result<u32, WireError> {
    buf.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(WireError::new("truncated u32", at))
}

pub(crate) fn byte(buf: &[u8], at: usize) -> Result<u8, WireError> {
    buf.get(at).copied().ok_or(WireError::new("truncated", at))
}
