//! Template sets out of a v9/IPFIX datagram, for relays: a destination that does not get a datagram (sampled
//! away, or load-balanced to another group member) still needs its templates, or it could not read the data
//! it does get.

use crate::error::{be16, WireError};

use super::{header, template, Protocol};

const SET_HEADER: usize = 4;

/// Whether a set id is a template or options-template set.
fn is_template_set(protocol: Protocol, id: u16) -> bool {
    matches!(
        (protocol, id),
        (Protocol::V9, 0 | 1) | (Protocol::Ipfix, 2 | 3)
    )
}

/// The template and options-template sets of `p`, each as (set id, whole set bytes), in order.
fn template_sets(p: &[u8]) -> Result<(Protocol, Vec<&[u8]>), WireError> {
    let (h, mut sets) = header(p)?;
    let mut found = Vec::new();
    while sets.len() >= SET_HEADER && !super::is_padding(sets) {
        let (id, len) = (be16(sets, 0)?, usize::from(be16(sets, 2)?));
        if len < SET_HEADER || len > sets.len() {
            return Err(WireError::new(
                "netflow: set length out of bounds",
                p.len() - sets.len() + 2,
            ));
        }
        if is_template_set(h.protocol, id) {
            found.push(&sets[..len]);
        }
        sets = &sets[len..];
    }
    Ok((h.protocol, found))
}

/// The header of `p` and what its template sets announce (definitions and withdrawals), in order.
pub fn announcements(p: &[u8]) -> Result<(super::Header, Vec<template::Announcement>), WireError> {
    let (protocol, sets) = template_sets(p)?;
    let mut out = Vec::new();
    for s in sets {
        let options = matches!(be16(s, 0), Ok(1 | 3));
        template::parse_set(protocol, options, &s[SET_HEADER..], &mut |a| out.push(a))?;
    }
    Ok((header(p)?.0, out))
}

/// A datagram holding only the template and options-template sets of `p`, with the header adjusted (v9
/// record count, IPFIX length); `None` when `p` has none or cannot be read.
pub fn template_only(p: &[u8]) -> Option<Vec<u8>> {
    let (protocol, sets) = template_sets(p).ok()?;
    if sets.is_empty() {
        return None;
    }
    let head = match protocol {
        Protocol::V9 => 20,
        Protocol::Ipfix => 16,
    };
    let mut out = p.get(..head)?.to_vec();
    let mut records = 0u16;
    for s in &sets {
        records = records.saturating_add(count_records(protocol, s));
        out.extend_from_slice(s);
    }
    let patched = match protocol {
        Protocol::V9 => records,
        Protocol::Ipfix => u16::try_from(out.len()).ok()?,
    };
    out[2..4].copy_from_slice(&patched.to_be_bytes());
    Some(out)
}

/// A datagram carrying `templates`, with the header of an earlier datagram of the same exporter and domain
/// (`header`: its first 20 bytes for v9, 16 for IPFIX; count or length patched): what a relay sends to a
/// collector that missed them.
pub fn templates_datagram(
    protocol: Protocol,
    header: &[u8],
    templates: &[&template::Template],
) -> Option<Vec<u8>> {
    let head = match protocol {
        Protocol::V9 => 20,
        Protocol::Ipfix => 16,
    };
    let mut out = header.get(..head)?.to_vec();
    let ids = match protocol {
        Protocol::V9 => [0u16, 1],
        Protocol::Ipfix => [2, 3],
    };
    for (options, id) in [(false, ids[0]), (true, ids[1])] {
        let chosen: Vec<_> = templates.iter().filter(|t| t.options == options).collect();
        if chosen.is_empty() {
            continue;
        }
        let at = out.len();
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        chosen
            .iter()
            .for_each(|t| template::encode(protocol, t, &mut out));
        let len = u16::try_from(out.len() - at).ok()?;
        out[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    let patched = match protocol {
        Protocol::V9 => u16::try_from(templates.len()).ok()?,
        Protocol::Ipfix => u16::try_from(out.len()).ok()?,
    };
    out[2..4].copy_from_slice(&patched.to_be_bytes());
    Some(out)
}

/// Template records in one template set (v9 counts them in its header).
fn count_records(protocol: Protocol, set: &[u8]) -> u16 {
    let options = matches!(be16(set, 0), Ok(1 | 3));
    let mut n = 0u16;
    let _ = template::parse_set(protocol, options, &set[SET_HEADER..], &mut |_| {
        n = n.saturating_add(1)
    });
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netflow::{Event, Session};

    fn v9_with_template_and_data() -> Vec<u8> {
        let mut p = vec![0, 9, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];
        p.extend_from_slice(&[0, 0, 0, 12, 1, 0, 0, 1, 0, 8, 0, 4]); // template 256: one field
        p.extend_from_slice(&[1, 0, 0, 8, 10, 0, 0, 1]); // data
        p
    }

    #[test]
    fn v9_template_only_keeps_the_header_and_counts_templates() {
        let p = v9_with_template_and_data();
        assert!(template_only(&p).is_some());
        let t = template_only(&p).unwrap();
        assert_eq!(t.len(), 32);
        assert_eq!(&t[..2], &[0, 9]);
        assert_eq!(u16::from_be_bytes([t[2], t[3]]), 1);
        assert_eq!(&t[4..20], &p[4..20]);
        let mut s = Session::default();
        let mut templates = 0;
        s.decode("192.0.2.1".parse().unwrap(), 0, &t, &mut |e| {
            templates += usize::from(matches!(e, Event::Template(_)))
        })
        .unwrap();
        assert_eq!(templates, 1);
    }

    #[test]
    fn ipfix_length_is_patched_and_data_only_has_none() {
        let mut p = vec![0, 10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        p.extend_from_slice(&[0, 2, 0, 12, 1, 0, 0, 1, 0, 8, 0, 4]);
        p.extend_from_slice(&[1, 0, 0, 8, 10, 0, 0, 1]);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let t = template_only(&p).unwrap();
        assert_eq!(u16::from_be_bytes([t[2], t[3]]) as usize, t.len());
        assert_eq!(t.len(), 28);
        let mut data_only = p[..16].to_vec();
        data_only.extend_from_slice(&p[28..]);
        let len = data_only.len() as u16;
        data_only[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(template_only(&data_only), None);
    }

    #[test]
    fn broken_datagrams_have_no_templates() {
        let p = v9_with_template_and_data();
        for n in 0..p.len() {
            let _ = template_only(&p[..n]);
        }
        assert_eq!(template_only(&[0, 5, 0, 0]), None);
    }

    #[test]
    fn templates_datagram_round_trips_through_a_session() {
        use crate::netflow::template::{FieldSpec, Template};
        let data = Template {
            id: 256,
            options: false,
            scope_fields: 0,
            fields: vec![FieldSpec {
                id: 8,
                enterprise: 0,
                len: 4,
            }],
            repeats: false,
        };
        let options = Template {
            id: 257,
            options: true,
            scope_fields: 1,
            fields: vec![
                FieldSpec {
                    id: 1,
                    enterprise: 0,
                    len: 4,
                },
                FieldSpec {
                    id: 34,
                    enterprise: 0,
                    len: 4,
                },
            ],
            repeats: false,
        };
        let header = v9_with_template_and_data();
        let d = templates_datagram(Protocol::V9, &header, &[&data, &options]).unwrap();
        assert_eq!(u16::from_be_bytes([d[2], d[3]]), 2);
        let mut s = Session::default();
        let mut ids = Vec::new();
        s.decode("192.0.2.1".parse().unwrap(), 0, &d, &mut |e| {
            if let Event::Template(t) = e {
                ids.push((t.id, t.options))
            }
        })
        .unwrap();
        assert_eq!(ids, vec![(256, false), (257, true)]);
        assert_eq!(
            templates_datagram(Protocol::V9, &header[..10], &[&data]),
            None
        );
    }
}
