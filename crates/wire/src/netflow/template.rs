//! Template and options-template records (NetFlow v9 RFC 3954 §5.2–5.3, IPFIX RFC 7011 §3.4), and the
//! splitting of a data set into records a template describes.

use crate::error::{be16, be32, WireError};

use super::Protocol;

/// Field length that means "variable length" (IPFIX, RFC 7011 §7).
pub const VARLEN: u16 = 0xffff;
/// The most fields one template may have; a template claiming more is refused.
pub const MAX_FIELDS: usize = 512;

/// One field of a template: element id, enterprise number (0 for IETF elements) and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub id: u16,
    pub enterprise: u32,
    pub len: u16,
}

/// A data or options template. `scope_fields` is the number of leading scope fields (0 for data templates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: u16,
    pub options: bool,
    pub scope_fields: u16,
    pub fields: Vec<FieldSpec>,
    /// Some element appears more than once (so names of its values repeat).
    pub repeats: bool,
}

/// What one template record said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    Define(Template),
    /// IPFIX template withdrawal (a record with no fields).
    Withdraw(u16),
}

impl Template {
    /// The record length when no field is variable-length.
    pub fn fixed_len(&self) -> Option<usize> {
        self.fields.iter().try_fold(0usize, |n, f| {
            (f.len != VARLEN).then_some(n + usize::from(f.len))
        })
    }

    /// The shortest record: fixed fields plus one length byte per variable-length field.
    pub fn min_len(&self) -> usize {
        self.fields
            .iter()
            .map(|f| {
                if f.len == VARLEN {
                    1
                } else {
                    usize::from(f.len)
                }
            })
            .sum()
    }

    /// Splits one record off the front of `b`: `None` when what is left cannot hold another record (padding).
    pub fn split_record<'a>(&self, b: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        if b.len() < self.min_len() {
            return None;
        }
        let len = match self.fixed_len() {
            Some(0) => return None,
            Some(n) => n,
            None => self.walk(b)?,
        };
        (len <= b.len()).then(|| b.split_at(len))
    }

    /// The length of the variable-length record at the front of `b`, if it is all there.
    fn walk(&self, b: &[u8]) -> Option<usize> {
        let mut at = 0;
        for f in &self.fields {
            let (skip, len) = field_len(f, b.get(at..)?)?;
            at += skip + len;
        }
        (at <= b.len()).then_some(at)
    }

    /// The fields of one record produced by [`Template::split_record`], with their bytes.
    pub fn fields_of<'a, 't>(&'t self, record: &'a [u8]) -> Fields<'a, 't> {
        Fields {
            specs: self.fields.iter(),
            rest: record,
        }
    }
}

/// The length prefix size and value length of field `f` at the front of `b`.
fn field_len(f: &FieldSpec, b: &[u8]) -> Option<(usize, usize)> {
    if f.len != VARLEN {
        return Some((0, usize::from(f.len)));
    }
    match *b.first()? {
        255 => Some((3, usize::from(u16::from_be_bytes([*b.get(1)?, *b.get(2)?])))),
        n => Some((1, usize::from(n))),
    }
}

/// Iterator over (field, value bytes) of one record.
pub struct Fields<'a, 't> {
    specs: std::slice::Iter<'t, FieldSpec>,
    rest: &'a [u8],
}

impl<'a, 't> Iterator for Fields<'a, 't> {
    type Item = (&'t FieldSpec, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let f = self.specs.next()?;
        let (skip, len) = field_len(f, self.rest)?;
        let value = self.rest.get(skip..skip + len)?;
        self.rest = &self.rest[skip + len..];
        Some((f, value))
    }
}

/// Parses the template records of one set body. v9: set 0 (templates) and 1 (options templates);
/// IPFIX: set 2 and 3. Trailing bytes too short for another record are padding.
pub fn parse_set(
    protocol: Protocol,
    options: bool,
    body: &[u8],
    out: &mut impl FnMut(Announcement),
) -> Result<(), WireError> {
    let mut at = 0;
    while body.len() - at >= min_record(protocol, options) {
        let (a, used) = match (protocol, options) {
            (Protocol::V9, false) => v9_template(body, at)?,
            (Protocol::V9, true) => v9_options(body, at)?,
            (Protocol::Ipfix, opt) => ipfix_template(body, at, opt)?,
        };
        out(a);
        at += used;
    }
    Ok(())
}

fn min_record(protocol: Protocol, options: bool) -> usize {
    match (protocol, options) {
        (Protocol::V9, true) => 10,
        _ => 4,
    }
}

fn template_id(b: &[u8], at: usize) -> Result<u16, WireError> {
    let id = be16(b, at)?;
    if id < 256 {
        return Err(WireError::new("netflow: template id below 256", at));
    }
    Ok(id)
}

fn check_count(count: usize, at: usize) -> Result<(), WireError> {
    if count > MAX_FIELDS {
        return Err(WireError::new(
            "netflow: template has more than 512 fields",
            at,
        ));
    }
    Ok(())
}

fn v9_template(b: &[u8], at: usize) -> Result<(Announcement, usize), WireError> {
    let id = template_id(b, at)?;
    let count = usize::from(be16(b, at + 2)?);
    if count == 0 {
        return Err(WireError::new(
            "netflow v9: template without fields",
            at + 2,
        ));
    }
    check_count(count, at + 2)?;
    let fields = v9_fields(b, at + 4, count)?;
    Ok((define(id, false, 0, fields), 4 + count * 4))
}

fn v9_options(b: &[u8], at: usize) -> Result<(Announcement, usize), WireError> {
    let id = template_id(b, at)?;
    let (scope_len, option_len) = (usize::from(be16(b, at + 2)?), usize::from(be16(b, at + 4)?));
    if scope_len % 4 != 0 || option_len % 4 != 0 {
        return Err(WireError::new(
            "netflow v9: options lengths not multiples of 4",
            at + 2,
        ));
    }
    if scope_len == 0 {
        return Err(WireError::new(
            "netflow v9: options template without scope",
            at + 2,
        ));
    }
    let count = (scope_len + option_len) / 4;
    check_count(count, at + 2)?;
    let fields = v9_fields(b, at + 6, count)?;
    let used = 6 + count * 4;
    // An options template record is padded to a 4-byte boundary.
    let padded = used.next_multiple_of(4).min(b.len() - at);
    Ok((define(id, true, (scope_len / 4) as u16, fields), padded))
}

fn v9_fields(b: &[u8], at: usize, count: usize) -> Result<Vec<FieldSpec>, WireError> {
    if b.len() < at + count * 4 {
        return Err(WireError::new(
            "netflow v9: template fields exceed the set",
            at,
        ));
    }
    (0..count)
        .map(|i| {
            let at = at + i * 4;
            Ok(FieldSpec {
                id: be16(b, at)?,
                enterprise: 0,
                len: be16(b, at + 2)?,
            })
        })
        .collect()
}

fn ipfix_template(b: &[u8], at: usize, options: bool) -> Result<(Announcement, usize), WireError> {
    let id = template_id(b, at)?;
    let count = usize::from(be16(b, at + 2)?);
    if count == 0 {
        return Ok((Announcement::Withdraw(id), 4));
    }
    check_count(count, at + 2)?;
    let (scope, mut pos) = match options {
        true => (be16(b, at + 4)?, at + 6),
        false => (0, at + 4),
    };
    if options && (scope == 0 || usize::from(scope) > count) {
        return Err(WireError::new("ipfix: bad scope field count", at + 4));
    }
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        let (f, used) = ipfix_field(b, pos)?;
        fields.push(f);
        pos += used;
    }
    Ok((define(id, options, scope, fields), pos - at))
}

fn ipfix_field(b: &[u8], at: usize) -> Result<(FieldSpec, usize), WireError> {
    let raw = be16(b, at)?;
    let len = be16(b, at + 2)?;
    if raw & 0x8000 == 0 {
        return Ok((
            FieldSpec {
                id: raw,
                enterprise: 0,
                len,
            },
            4,
        ));
    }
    let enterprise = be32(b, at + 4)?;
    Ok((
        FieldSpec {
            id: raw & 0x7fff,
            enterprise,
            len,
        },
        8,
    ))
}

fn define(id: u16, options: bool, scope_fields: u16, fields: Vec<FieldSpec>) -> Announcement {
    let repeats = fields.iter().enumerate().any(|(i, f)| {
        fields[..i]
            .iter()
            .any(|g| (g.id, g.enterprise) == (f.id, f.enterprise))
    });
    Announcement::Define(Template {
        id,
        options,
        scope_fields,
        fields,
        repeats,
    })
}

/// Writes `t` as a template record of its set (the reverse of [`parse_set`]): v9 (options) template
/// records, or IPFIX (options) template records with enterprise numbers. v9 options records are padded to
/// 4 bytes.
pub fn encode(protocol: Protocol, t: &Template, out: &mut Vec<u8>) {
    let put = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_be_bytes());
    let start = out.len();
    put(out, t.id);
    let count = t.fields.len() as u16;
    match (protocol, t.options) {
        (Protocol::V9, false) => put(out, count),
        (Protocol::V9, true) => {
            put(out, t.scope_fields * 4);
            put(out, (count - t.scope_fields.min(count)) * 4);
        }
        (Protocol::Ipfix, options) => {
            put(out, count);
            if options {
                put(out, t.scope_fields);
            }
        }
    }
    for f in &t.fields {
        let ent = protocol == Protocol::Ipfix && f.enterprise != 0;
        put(out, if ent { f.id | 0x8000 } else { f.id });
        put(out, f.len);
        if ent {
            out.extend_from_slice(&f.enterprise.to_be_bytes());
        }
    }
    if protocol == Protocol::V9 && t.options {
        out.resize(start + (out.len() - start).next_multiple_of(4), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        protocol: Protocol,
        options: bool,
        body: &[u8],
    ) -> Result<Vec<Announcement>, WireError> {
        let mut v = Vec::new();
        parse_set(protocol, options, body, &mut |a| v.push(a))?;
        Ok(v)
    }

    #[test]
    fn v9_templates_with_padding() {
        let body = [
            1, 0, 0, 2, 0, 8, 0, 4, 0, 1, 0, 4, 1, 1, 0, 1, 0, 2, 0, 8, 0, 0,
        ];
        let v = collect(Protocol::V9, false, &body).unwrap();
        assert_eq!(v.len(), 2);
        let Announcement::Define(t) = &v[0] else {
            panic!()
        };
        assert!(!t.repeats);
        let Announcement::Define(again) =
            &collect(Protocol::V9, false, &[1, 0, 0, 2, 0, 8, 0, 4, 0, 8, 0, 4]).unwrap()[0]
        else {
            panic!()
        };
        assert!(again.repeats, "sourceIPv4Address twice");
        assert_eq!((t.id, t.fields.len(), t.fixed_len()), (256, 2, Some(8)));
    }

    #[test]
    fn v9_options_template() {
        // id 257, scope 4 bytes (system, 4), options 8 bytes (samplingInterval 4, samplingAlgorithm 1).
        let body = [1, 1, 0, 4, 0, 8, 0, 1, 0, 4, 0, 34, 0, 4, 0, 35, 0, 1, 0, 0];
        let v = collect(Protocol::V9, true, &body).unwrap();
        let Announcement::Define(t) = &v[0] else {
            panic!()
        };
        assert_eq!(
            (t.id, t.options, t.scope_fields, t.fields.len()),
            (257, true, 1, 3)
        );
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn ipfix_enterprise_varlen_and_withdrawal() {
        let body = [
            1, 0, 0, 2, 0, 8, 0, 4, 0x80, 1, 0xff, 0xff, 0, 0, 0x0b,
            0x3f, // enterprise 2879, id 1, varlen
            1, 1, 0, 0, // withdraw 257
        ];
        let v = collect(Protocol::Ipfix, false, &body).unwrap();
        let Announcement::Define(t) = &v[0] else {
            panic!()
        };
        assert_eq!(
            t.fields[1],
            FieldSpec {
                id: 1,
                enterprise: 2879,
                len: VARLEN
            }
        );
        assert_eq!(t.fixed_len(), None);
        assert_eq!(v[1], Announcement::Withdraw(257));
        let rec = [10, 0, 0, 1, 3, b'a', b'b', b'c', 255, 0, 1, b'z'];
        let (first, rest) = t.split_record(&rec).unwrap();
        assert_eq!(first.len(), 8);
        let fields: Vec<_> = t.fields_of(first).map(|(f, v)| (f.id, v)).collect();
        assert_eq!(fields, vec![(8, &rec[..4]), (1, &b"abc"[..])]);
        let next = [rest, &[2, b'x', b'y'][..]].concat();
        let (second, left) = t.split_record(&next).unwrap();
        assert_eq!((second.len(), left.len()), (7, 0));
        assert!(t.split_record(&rec[..6]).is_none());
    }

    #[test]
    fn hostile_templates_are_errors() {
        assert!(collect(Protocol::V9, false, &[0, 1, 0, 1, 0, 8, 0, 4]).is_err()); // id below 256
        assert!(collect(Protocol::V9, false, &[1, 0, 0xff, 0xff, 0, 8]).is_err()); // count beyond the set
        assert!(collect(Protocol::V9, false, &[1, 0, 2, 1, 0, 8]).is_err()); // over MAX_FIELDS
        assert!(collect(Protocol::Ipfix, true, &[1, 0, 0, 2, 0, 3, 0, 8, 0, 4]).is_err()); // scope > count
        assert!(collect(Protocol::Ipfix, false, &[1, 0, 0, 1, 0x80, 8, 0, 4, 0]).is_err());
        // cut pen
    }

    #[test]
    fn encode_is_the_reverse_of_parse() {
        let fields = vec![
            FieldSpec {
                id: 8,
                enterprise: 0,
                len: 4,
            },
            FieldSpec {
                id: 7,
                enterprise: 2879,
                len: VARLEN,
            },
            FieldSpec {
                id: 34,
                enterprise: 0,
                len: 4,
            },
        ];
        for protocol in [Protocol::V9, Protocol::Ipfix] {
            for (options, scope) in [(false, 0), (true, 1)] {
                let mut t = Template {
                    id: 300,
                    options,
                    scope_fields: scope,
                    fields: fields.clone(),
                    repeats: false,
                };
                if protocol == Protocol::V9 {
                    t.fields[1].enterprise = 0; // v9 has no enterprise numbers
                }
                let mut b = Vec::new();
                encode(protocol, &t, &mut b);
                let got = collect(protocol, options, &b).unwrap();
                assert_eq!(
                    got,
                    vec![Announcement::Define(t.clone())],
                    "{protocol:?} options={options}"
                );
            }
        }
    }

    #[test]
    fn v9_templates_need_fields_and_options_a_scope() {
        assert!(collect(Protocol::V9, false, &[1, 0, 0, 0]).is_err());
        assert!(collect(Protocol::V9, true, &[1, 0, 0, 0, 0, 4, 0, 34, 0, 4]).is_err());
    }
}
