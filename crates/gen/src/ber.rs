//! Just enough BER to write SNMP messages.

/// Appends a tag-length-value; `content` writes the value into the buffer, the length is patched after.
pub fn tlv(out: &mut Vec<u8>, tag: u8, content: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    let len_at = out.len();
    out.extend_from_slice(&[0x82, 0, 0]); // long form, two bytes: patched below
    let start = out.len();
    content(out);
    let len = out.len() - start;
    if len < 0x80 {
        out.drain(len_at + 1..len_at + 3);
        out[len_at] = len as u8;
    } else {
        out[len_at + 1..len_at + 3].copy_from_slice(&(len as u16).to_be_bytes());
    }
}

/// A signed INTEGER (or an application type with integer encoding, e.g. TimeTicks).
pub fn int(out: &mut Vec<u8>, tag: u8, v: i64) {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    tlv(out, tag, |o| o.extend_from_slice(&bytes[start..]));
}

/// An unsigned 32-bit application type (Counter32, Gauge32, TimeTicks): encoded as a non-negative integer.
pub fn uint(out: &mut Vec<u8>, tag: u8, v: u32) {
    int(out, tag, i64::from(v));
}

pub fn octets(out: &mut Vec<u8>, tag: u8, v: &[u8]) {
    tlv(out, tag, |o| o.extend_from_slice(v));
}

/// An OBJECT IDENTIFIER from its arcs.
pub fn oid(out: &mut Vec<u8>, arcs: &[u32]) {
    tlv(out, 0x06, |o| {
        o.push((arcs[0] * 40 + arcs[1]) as u8);
        for &a in &arcs[2..] {
            let mut stack = [0u8; 5];
            let mut n = 0;
            let mut v = a;
            loop {
                stack[n] = (v & 0x7f) as u8;
                n += 1;
                v >>= 7;
                if v == 0 {
                    break;
                }
            }
            for i in (0..n).rev() {
                o.push(stack[i] | if i > 0 { 0x80 } else { 0 });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let mut o = Vec::new();
        int(&mut o, 0x02, 0);
        int(&mut o, 0x02, 128);
        int(&mut o, 0x02, -1);
        assert_eq!(o, [2, 1, 0, 2, 2, 0, 128, 2, 1, 0xff]);
        let mut o = Vec::new();
        oid(&mut o, &[1, 3, 6, 1, 4, 1, 8072, 2, 3]);
        assert_eq!(o, [6, 9, 0x2b, 6, 1, 4, 1, 0xbf, 0x08, 2, 3]);
        let mut o = Vec::new();
        tlv(&mut o, 0x30, |x| x.extend_from_slice(&[0u8; 200]));
        assert_eq!(&o[..4], &[0x30, 0x82, 0, 200]);
        assert_eq!(o.len(), 204);
    }
}
