//! SNMP notifications (v1 traps, v2c/v3 traps and informs) and any other PDU a trap port receives.

use std::net::Ipv4Addr;

use serde::Serialize;
use wire::snmp::{self, Message, PduKind, SecurityLevel, Usm, Value, Version};

use crate::value::hex;
use crate::Body;

#[derive(Debug, Clone, Serialize)]
pub struct Trap {
    /// `1`, `2c` or `3`.
    pub version: &'static str,
    /// `trap-v1`, `trap`, `inform`, or another PDU type (`get`, `response`, `report`...).
    pub pdu: &'static str,
    /// Text when printable UTF-8, else hex with `community_hex: true` (the rule of octet-string bindings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub community_hex: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<i32>,
    /// snmpTrapOID.0, or for v1 the OID RFC 3584 §3.1 maps the generic/specific trap to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trap_oid: Option<String>,
    /// sysUpTime.0 (v2c/v3) or the v1 time stamp, in hundredths of a second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<u32>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub v1: Option<V1>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub v3: Option<V3>,
    pub varbinds: Vec<VarBind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct V1 {
    pub enterprise: String,
    pub agent_addr: Ipv4Addr,
    pub generic_trap: i64,
    pub specific_trap: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct V3 {
    pub msg_id: u32,
    /// `noAuthNoPriv`, `authNoPriv` or `authPriv`.
    pub security_level: &'static str,
    /// Text when printable UTF-8, else hex with `user_hex: true`.
    pub user: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub user_hex: bool,
    /// Hex.
    pub engine_id: String,
    pub engine_boots: u32,
    pub engine_time: u32,
    /// Engine boots or time came as a negative INTEGER (Net-SNMP writes 128..=255 without the leading zero
    /// byte) and were read as the unsigned number of their bytes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lenient_integers: bool,
    /// Hex.
    pub context_engine_id: String,
    /// Text when printable UTF-8, else hex with `context_name_hex: true`.
    pub context_name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub context_name_hex: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VarBind {
    pub oid: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Numbers as numbers; OIDs and addresses as text; octet strings as text when they are printable UTF-8,
    /// else as hex with `"hex": true`; null-like types as `null`.
    pub value: serde_json::Value,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hex: bool,
}

/// Decodes one message received at `received_secs` (which judges the SNMPv3 time window); `Ok(true)` when
/// its engine boots or time had to be read leniently.
pub fn message(
    p: &[u8],
    usm: &mut Usm,
    received_secs: u64,
    out: &mut impl FnMut(Body),
) -> Result<bool, snmp::SnmpError> {
    let m = snmp::parse_at(p, usm, received_secs)?;
    out(Body::Trap(trap(&m)));
    Ok(m.v3.as_ref().is_some_and(|h| h.lenient_integers))
}

fn trap(m: &Message) -> Trap {
    let community = m.community.as_deref().map(text_or_hex);
    Trap {
        version: match m.version {
            Version::V1 => "1",
            Version::V2c => "2c",
            Version::V3 => "3",
        },
        pdu: pdu_name(m.pdu.kind),
        community_hex: community.as_ref().is_some_and(|c| c.1),
        community: community.map(|c| c.0),
        request_id: m.pdu.request_id,
        trap_oid: m.trap_oid().map(|o| o.to_string()),
        uptime: m.uptime(),
        v1: m.pdu.v1.as_ref().map(|t| V1 {
            enterprise: t.enterprise.to_string(),
            agent_addr: t.agent_addr,
            generic_trap: t.generic_trap,
            specific_trap: t.specific_trap,
        }),
        v3: m.v3.as_ref().map(v3),
        varbinds: m
            .pdu
            .varbinds
            .iter()
            .map(|v| varbind(&v.oid.to_string(), &v.value))
            .collect(),
    }
}

fn v3(h: &snmp::V3Header) -> V3 {
    let (user, user_hex) = text_or_hex(&h.user);
    let (context_name, context_name_hex) = text_or_hex(&h.context_name);
    V3 {
        msg_id: h.msg_id,
        security_level: match h.level {
            SecurityLevel::NoAuthNoPriv => "noAuthNoPriv",
            SecurityLevel::AuthNoPriv => "authNoPriv",
            SecurityLevel::AuthPriv => "authPriv",
        },
        user,
        user_hex,
        engine_id: hex(&h.engine_id),
        engine_boots: h.engine_boots,
        engine_time: h.engine_time,
        lenient_integers: h.lenient_integers,
        context_engine_id: hex(&h.context_engine_id),
        context_name,
        context_name_hex,
    }
}

fn pdu_name(k: PduKind) -> &'static str {
    match k {
        PduKind::TrapV1 => "trap-v1",
        PduKind::TrapV2 => "trap",
        PduKind::Inform => "inform",
        PduKind::Get => "get",
        PduKind::GetNext => "getnext",
        PduKind::Response => "response",
        PduKind::Set => "set",
        PduKind::GetBulk => "getbulk",
        PduKind::Report => "report",
        PduKind::Other(_) => "other",
    }
}

fn varbind(oid: &str, v: &Value) -> VarBind {
    use serde_json::Value as J;
    let (kind, value, is_hex) = match v {
        Value::Integer(n) => ("integer", J::from(*n), false),
        Value::OctetString(b) => octets(b),
        Value::Null => ("null", J::Null, false),
        Value::ObjectId(o) => ("oid", J::from(o.to_string()), false),
        Value::IpAddress(a) => ("ip-address", J::from(Ipv4Addr::from(*a).to_string()), false),
        Value::Counter32(n) => ("counter32", J::from(*n), false),
        Value::Gauge32(n) => ("gauge32", J::from(*n), false),
        Value::TimeTicks(n) => ("timeticks", J::from(*n), false),
        Value::Opaque(b) => ("opaque", J::from(hex(b)), true),
        Value::Counter64(n) => ("counter64", J::from(*n), false),
        Value::NoSuchObject => ("no-such-object", J::Null, false),
        Value::NoSuchInstance => ("no-such-instance", J::Null, false),
        Value::EndOfMibView => ("end-of-mib-view", J::Null, false),
        Value::Unknown { bytes, .. } => ("unknown", J::from(hex(bytes)), true),
    };
    VarBind {
        oid: oid.to_owned(),
        kind,
        value,
        hex: is_hex,
    }
}

fn octets(b: &[u8]) -> (&'static str, serde_json::Value, bool) {
    let (text, is_hex) = text_or_hex(b);
    ("octet-string", text.into(), is_hex)
}

/// Printable UTF-8 (tab, CR and LF allowed) as text, anything else as hex (`true`): no byte is lost.
fn text_or_hex(b: &[u8]) -> (String, bool) {
    match std::str::from_utf8(b) {
        Ok(s)
            if !s
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n')) =>
        {
            (s.to_owned(), false)
        }
        _ => (hex(b), true),
    }
}
