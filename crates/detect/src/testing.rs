//! Records built by hand — a syslog message, a link trap, a NetFlow v5 flow — for this crate's tests,
//! examples and benchmarks, which drive the detectors without decoding datagrams.

use std::net::{IpAddr, Ipv4Addr};

use records::netflow::V5Flow;
use records::snmp::{Trap, VarBind};
use records::syslog::Message;
use records::{Body, Record, Stamp};

fn record(kind: &'static str, exporter: IpAddr, body: Body) -> Record {
    Record {
        kind,
        record: body.name(),
        exporter,
        received: Stamp::new(0),
        body,
    }
}

/// An RFC 3164 message with only a severity and a text.
pub fn message(exporter: IpAddr, severity: u8, text: &str) -> Record {
    let m = Message {
        format: "rfc3164",
        facility: 1,
        severity,
        no_pri: false,
        version: None,
        timestamp: None,
        hostname: None,
        app: None,
        procid: None,
        msgid: None,
        structured_data: None,
        sequence: None,
        clock_flag: None,
        bom: false,
        message: text.to_owned(),
    };
    record("syslog", exporter, Body::Message(m))
}

/// A v2c linkUp or linkDown trap naming `if_index`.
pub fn link_trap(exporter: IpAddr, if_index: u32, up: bool) -> Record {
    let oid = if up {
        "1.3.6.1.6.3.1.1.5.4"
    } else {
        "1.3.6.1.6.3.1.1.5.3"
    };
    let t = Trap {
        version: "2c",
        pdu: "trap",
        community: Some("public".into()),
        community_hex: false,
        request_id: Some(1),
        trap_oid: Some(oid.into()),
        uptime: Some(100),
        v1: None,
        v3: None,
        varbinds: vec![VarBind {
            oid: format!("1.3.6.1.2.1.2.2.1.1.{if_index}"),
            kind: "integer",
            value: serde_json::json!(if_index),
            hex: false,
        }],
    };
    record("snmptrap", exporter, Body::Trap(t))
}

/// A one-second NetFlow v5 flow of 100-byte packets from exporter 192.0.2.1 (TCP when `flags` is set, else
/// UDP).
pub fn v5(src: Ipv4Addr, dst: Ipv4Addr, dst_port: u16, packets: u32, flags: u8) -> Record {
    let f = V5Flow {
        version: 5,
        sequence: 0,
        sys_uptime_ms: 10_000,
        unix_secs: 0,
        unix_nsecs: 0,
        engine_type: 0,
        engine_id: 0,
        sampling_rate: None,
        src_addr: src,
        dst_addr: dst,
        next_hop: Ipv4Addr::UNSPECIFIED,
        input: 1,
        output: 2,
        packets,
        bytes: packets * 100,
        first_ms: 9_000,
        last_ms: 10_000,
        src_port: 40_000,
        dst_port,
        tcp_flags: flags,
        protocol: if flags != 0 { 6 } else { 17 },
        tos: 0,
        src_as: 0,
        dst_as: 0,
        src_mask: 0,
        dst_mask: 0,
    };
    record(
        "netflow-v5",
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        Body::V5Flow(f),
    )
}
