//! The UDP header.

use crate::error::{be16, WireError};

const HEADER_LEN: usize = 8;
const SRC_PORT: usize = 0;
const DST_PORT: usize = 2;
const LENGTH: usize = 4;

/// A checked view of a UDP segment: ports and the payload the length field covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

impl<'a> Datagram<'a> {
    /// Checks the header and the length field against the bytes present.
    pub fn parse(segment: &'a [u8]) -> Result<Self, WireError> {
        let len = usize::from(be16(segment, LENGTH)?);
        if len < HEADER_LEN {
            return Err(WireError::new("UDP length below 8", LENGTH));
        }
        let payload = segment
            .get(HEADER_LEN..len)
            .ok_or(WireError::new("UDP length exceeds the packet", LENGTH))?;
        Ok(Self {
            src_port: be16(segment, SRC_PORT)?,
            dst_port: be16(segment, DST_PORT)?,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_length() {
        let seg = [0x9c, 0x40, 0x02, 0x02, 0, 11, 0, 0, b'a', b'b', b'c', 0xff];
        let d = Datagram::parse(&seg).unwrap();
        assert_eq!(
            (d.src_port, d.dst_port, d.payload),
            (40000, 514, &b"abc"[..])
        );
        assert!(Datagram::parse(&seg[..7]).is_err());
        let mut lying = seg;
        lying[5] = 40;
        assert!(Datagram::parse(&lying).is_err());
        lying[5] = 3;
        assert!(Datagram::parse(&lying).is_err());
    }
}
