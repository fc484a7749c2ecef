//! Several datagrams in one fuzz input: pieces separated by `MARK` (empty pieces skipped).

pub const MARK: &[u8] = b"\xffNXT";

pub fn pieces(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(MARK.len()).position(|w| w == MARK) {
        out.push(&rest[..i]);
        rest = &rest[i + MARK.len()..];
    }
    out.push(rest);
    out.retain(|p| !p.is_empty());
    out
}
