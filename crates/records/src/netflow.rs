//! NetFlow v5, v9 and IPFIX records.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;
use wire::netflow::template::{FieldSpec, Template};
use wire::netflow::{ie, uint, v5, DataRecord, Event, Header, Protocol};

use crate::value::{self, Fields, Value};
use crate::Body;

/// One NetFlow v5 flow with its datagram's header fields.
#[derive(Debug, Clone, Serialize)]
pub struct V5Flow {
    pub version: u16,
    pub sequence: u32,
    pub sys_uptime_ms: u32,
    pub unix_secs: u32,
    pub unix_nsecs: u32,
    pub engine_type: u8,
    pub engine_id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling_rate: Option<u32>,
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub next_hop: Ipv4Addr,
    pub input: u16,
    pub output: u16,
    pub packets: u32,
    pub bytes: u32,
    pub first_ms: u32,
    pub last_ms: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
    pub protocol: u8,
    pub tos: u8,
    pub src_as: u16,
    pub dst_as: u16,
    pub src_mask: u8,
    pub dst_mask: u8,
}

pub fn v5_flows(p: &[u8], out: &mut impl FnMut(Body)) -> Result<(), wire::WireError> {
    let v = v5::Packet::parse(p)?;
    let h = v.header;
    let sampling_rate = (h.sampling_interval > 0).then_some(u32::from(h.sampling_interval));
    for r in v.records() {
        out(Body::V5Flow(V5Flow {
            version: 5,
            sequence: h.sequence,
            sys_uptime_ms: h.sys_uptime_ms,
            unix_secs: h.unix_secs,
            unix_nsecs: h.unix_nsecs,
            engine_type: h.engine_type,
            engine_id: h.engine_id,
            sampling_rate,
            src_addr: r.src_addr(),
            dst_addr: r.dst_addr(),
            next_hop: r.next_hop(),
            input: r.input(),
            output: r.output(),
            packets: r.packets(),
            bytes: r.bytes(),
            first_ms: r.first_ms(),
            last_ms: r.last_ms(),
            src_port: r.src_port(),
            dst_port: r.dst_port(),
            tcp_flags: r.tcp_flags(),
            protocol: r.protocol(),
            tos: r.tos(),
            src_as: r.src_as(),
            dst_as: r.dst_as(),
            src_mask: r.src_mask(),
            dst_mask: r.dst_mask(),
        }));
    }
    Ok(())
}

/// The message header every v9/IPFIX record repeats.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Export {
    pub version: u16,
    pub sequence: u32,
    /// v9 source id, IPFIX observation domain id.
    pub domain: u32,
    pub export_time: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sys_uptime_ms: Option<u32>,
}

impl From<&Header> for Export {
    fn from(h: &Header) -> Self {
        Export {
            version: match h.protocol {
                Protocol::V9 => 9,
                Protocol::Ipfix => 10,
            },
            sequence: h.sequence,
            domain: h.domain,
            export_time: h.export_time,
            sys_uptime_ms: h.sys_uptime_ms,
        }
    }
}

/// A v9 or IPFIX flow: the common keys lifted to the top, every field by its element name in `fields`.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    #[serde(flatten)]
    pub export: Export,
    pub template_id: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling_rate: Option<u32>,
    #[serde(flatten)]
    pub common: Common,
    pub fields: Fields,
}

/// The keys most tools want, whichever elements carried them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Common {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_addr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_addr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// Every element of a record that can give a summary key, kept as given (the first of each element), so that
/// the choice follows the precedence documented in docs/records.md, whatever the template order.
#[derive(Default)]
struct Candidates {
    ip_version: Option<u64>,
    /// Source and destination: IPv4 (8, 12) and IPv6 (27, 28).
    v4: [Option<IpAddr>; 2],
    v6: [Option<IpAddr>; 2],
    /// Source and destination ports: transport (7, 11), UDP (180, 181), TCP (182, 183).
    transport: [Option<u64>; 2],
    udp: [Option<u64>; 2],
    tcp: [Option<u64>; 2],
    protocol: Option<u64>,
    /// Delta (2, 1) and total (86, 85) packet and octet counts.
    packets: [Option<u64>; 2],
    bytes: [Option<u64>; 2],
}

impl Candidates {
    fn note(&mut self, id: u16, v: &Value) {
        match (id, v) {
            (60, Value::Unsigned(n)) => first(&mut self.ip_version, *n),
            (8, Value::Ip(a)) => first(&mut self.v4[0], *a),
            (12, Value::Ip(a)) => first(&mut self.v4[1], *a),
            (27, Value::Ip(a)) => first(&mut self.v6[0], *a),
            (28, Value::Ip(a)) => first(&mut self.v6[1], *a),
            (7, Value::Unsigned(n)) => first(&mut self.transport[0], *n),
            (11, Value::Unsigned(n)) => first(&mut self.transport[1], *n),
            (180, Value::Unsigned(n)) => first(&mut self.udp[0], *n),
            (181, Value::Unsigned(n)) => first(&mut self.udp[1], *n),
            (182, Value::Unsigned(n)) => first(&mut self.tcp[0], *n),
            (183, Value::Unsigned(n)) => first(&mut self.tcp[1], *n),
            (4, Value::Unsigned(n)) => first(&mut self.protocol, *n),
            (2, Value::Unsigned(n)) => first(&mut self.packets[0], *n),
            (86, Value::Unsigned(n)) => first(&mut self.packets[1], *n),
            (1, Value::Unsigned(n)) => first(&mut self.bytes[0], *n),
            (85, Value::Unsigned(n)) => first(&mut self.bytes[1], *n),
            _ => {}
        }
    }

    /// The address family of the flow: the one ipVersion names, else the one whose address is specified
    /// (an unspecified address never wins over a specified one), IPv4 first when both or neither are.
    fn addresses(&self) -> [Option<IpAddr>; 2] {
        let present = |pair: &[Option<IpAddr>; 2]| pair.iter().any(Option::is_some);
        let specified =
            |pair: &[Option<IpAddr>; 2]| pair.iter().flatten().any(|a| !a.is_unspecified());
        let (chosen, other) = match self.ip_version {
            Some(4) if present(&self.v4) => (&self.v4, &self.v6),
            Some(6) if present(&self.v6) => (&self.v6, &self.v4),
            _ if specified(&self.v4) => (&self.v4, &self.v6),
            _ if specified(&self.v6) => (&self.v6, &self.v4),
            _ if present(&self.v4) => (&self.v4, &self.v6),
            _ => (&self.v6, &self.v4),
        };
        [chosen[0].or(other[0]), chosen[1].or(other[1])]
    }

    /// sourceTransportPort (destination…) first, then the protocol's own (UDP 180/181, TCP 182/183), then
    /// either.
    fn port(&self, side: usize) -> Option<u64> {
        let own = match self.protocol {
            Some(17) => self.udp[side],
            Some(6) => self.tcp[side],
            _ => None,
        };
        self.transport[side]
            .or(own)
            .or(self.udp[side])
            .or(self.tcp[side])
    }

    fn common(&self) -> Common {
        let [src_addr, dst_addr] = self.addresses();
        Common {
            src_addr,
            dst_addr,
            src_port: self.port(0),
            dst_port: self.port(1),
            protocol: self.protocol,
            packets: self.packets[0].or(self.packets[1]),
            bytes: self.bytes[0].or(self.bytes[1]),
        }
    }
}

/// Keeps the first value a record gives for a key.
fn first<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

/// A record of an options template: `scope` says what it describes, `fields` what it says.
#[derive(Debug, Clone, Serialize)]
pub struct OptionsRecord {
    #[serde(flatten)]
    pub export: Export,
    pub template_id: u16,
    pub scope: Fields,
    pub fields: Fields,
}

/// A template, printed only on request.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateRecord {
    #[serde(flatten)]
    pub export: Export,
    pub template_id: u16,
    pub options: bool,
    pub scope_fields: u16,
    pub fields: Vec<TemplateField>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateField {
    pub id: u16,
    #[serde(skip_serializing_if = "is_zero")]
    pub enterprise: u32,
    pub length: u16,
    pub name: Cow<'static, str>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The name of an element: IANA's, `ie<N>` for an unknown IETF element, `<PEN>.<N>` for an enterprise one.
pub fn name(f: &FieldSpec) -> Cow<'static, str> {
    match (f.enterprise, ie::lookup(f.id)) {
        (0, Some(e)) => Cow::Borrowed(e.name),
        (0, None) => Cow::Owned(format!("ie{}", f.id)),
        (pen, _) => Cow::Owned(format!("{pen}.{}", f.id)),
    }
}

fn value_of(f: &FieldSpec, v: &[u8]) -> Value {
    match (f.enterprise, ie::lookup(f.id)) {
        (0, Some(e)) => value::read(e.data_type, v),
        _ => Value::Hex(value::hex(v)),
    }
}

/// The name of a NetFlow v9 options scope field: its scope type (RFC 3954 §6.1), which is not an element id.
fn v9_scope_name(scope_type: u16) -> Cow<'static, str> {
    ie::v9_scope_name(scope_type).map_or_else(|| format!("scope{scope_type}").into(), Cow::Borrowed)
}

fn flow(export: Export, r: &DataRecord<'_>) -> Flow {
    let mut candidates = Candidates::default();
    let mut fields = Fields(Vec::with_capacity(r.template.fields.len()));
    for (f, v) in r.fields() {
        let value = value_of(f, v);
        if f.enterprise == 0 {
            candidates.note(f.id, &value);
        }
        match r.template.repeats {
            true => fields.push(name(f), value),
            false => fields.push_new(name(f), value),
        }
    }
    Flow {
        export,
        template_id: r.template.id,
        sampling_rate: r.sampling_rate,
        common: candidates.common(),
        fields,
    }
}

fn options(export: Export, r: &DataRecord<'_>) -> OptionsRecord {
    let (mut scope, mut fields) = (Fields::default(), Fields::default());
    let v9 = export.version == 9;
    for (i, (f, v)) in r.fields().enumerate() {
        match (i < usize::from(r.template.scope_fields), v9) {
            (true, true) => scope.push(
                v9_scope_name(f.id),
                uint(v).map_or_else(|| Value::Hex(value::hex(v)), Value::Unsigned),
            ),
            (true, false) => scope.push(name(f), value_of(f, v)),
            (false, _) => fields.push(name(f), value_of(f, v)),
        }
    }
    OptionsRecord {
        export,
        template_id: r.template.id,
        scope,
        fields,
    }
}

fn template(export: Export, t: &Template) -> TemplateRecord {
    TemplateRecord {
        export,
        template_id: t.id,
        options: t.options,
        scope_fields: t.scope_fields,
        fields: t
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| TemplateField {
                id: f.id,
                enterprise: f.enterprise,
                length: f.len,
                name: match export.version == 9 && i < usize::from(t.scope_fields) {
                    true => v9_scope_name(f.id),
                    false => name(f),
                },
            })
            .collect(),
    }
}

/// What the decoder does with one v9/IPFIX event. Returns `false` for events that are problems.
pub fn event(export: Export, e: Event<'_>, templates: bool, out: &mut impl FnMut(Body)) -> Outcome {
    match e {
        Event::Flow(r) => out(Body::Flow(flow(export, &r))),
        Event::Options(r) => out(Body::Options(options(export, &r))),
        Event::Template(t) if templates => out(Body::Template(template(export, t))),
        Event::Template(_) => {}
        Event::NoTemplate { template_id, .. } => return Outcome::NoTemplate(template_id),
        Event::BadSet(e) => return Outcome::Bad(e),
    }
    Outcome::Ok
}

pub enum Outcome {
    Ok,
    NoTemplate(u16),
    Bad(wire::WireError),
}
