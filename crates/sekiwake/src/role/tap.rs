//! `sekiwake tap`: one JSON line per envelope on stdout — a person's window on the bus.

use std::io::Write;

use anyhow::Result;
use bus::{Recv, Subscriber};
use envelope::{Envelope, FLAG_INFORM, FLAG_REASSEMBLED};
use serde::Serialize;
use wire::kind::Kind;

use super::decode::Printer;
use super::Stop;
use crate::config::DecodeConfig;

#[derive(Serialize)]
struct Line<'a> {
    topic: &'a str,
    kind: &'a str,
    variant: &'a str,
    exporter: String,
    exporter_port: u16,
    destination: String,
    destination_port: u16,
    timestamp_ns: u64,
    publisher: u64,
    sequence: u64,
    interface: &'a str,
    reassembled: bool,
    inform: bool,
    length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_text: Option<String>,
    payload_hex: String,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn line<'a>(topic: &'a str, e: &'a Envelope<&'a [u8]>) -> Line<'a> {
    let kind = e.kind();
    let payload = e.payload();
    Line {
        topic,
        kind: kind.map_or("unknown", Kind::name),
        variant: kind.map_or("unknown", |k| k.variant_name(e.variant())),
        exporter: e.src().to_string(),
        exporter_port: e.src_port(),
        destination: e.dst().to_string(),
        destination_port: e.dst_port(),
        timestamp_ns: e.timestamp_ns(),
        publisher: e.publisher(),
        sequence: e.sequence(),
        interface: e.interface(),
        reassembled: e.flags() & FLAG_REASSEMBLED != 0,
        inform: e.flags() & FLAG_INFORM != 0,
        length: payload.len(),
        payload_text: (kind == Some(Kind::Syslog))
            .then(|| String::from_utf8_lossy(payload).into_owned()),
        payload_hex: hex(payload),
    }
}

/// Prints envelopes (or, with a decode configuration, their records) until `stop`. Returns the envelopes seen.
pub fn run(
    endpoints: &[String],
    prefixes: &[String],
    decode: Option<&DecodeConfig>,
    stop: &Stop<'_>,
) -> Result<u64> {
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::new(stdout.lock());
    match decode {
        Some(cfg) => loop_on(endpoints, prefixes, stop, Decoded(Printer::new(cfg, out)?)),
        None => loop_on(endpoints, prefixes, stop, Raw(out)),
    }
}

/// What tap does with each envelope.
trait Sink {
    fn envelope(&mut self, topic: &str, e: &Envelope<&[u8]>) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()>;
}

struct Raw<W: Write>(W);

impl<W: Write> Sink for Raw<W> {
    fn envelope(&mut self, topic: &str, e: &Envelope<&[u8]>) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, &line(topic, e))?;
        self.0.write_all(b"\n")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

struct Decoded<W: Write>(Printer<W>);

impl<W: Write> Sink for Decoded<W> {
    fn envelope(&mut self, _topic: &str, e: &Envelope<&[u8]>) -> std::io::Result<()> {
        let Some(kind) = e.kind() else { return Ok(()) };
        self.0.datagram(&records::Datagram {
            kind,
            exporter: e.src(),
            received_ns: e.timestamp_ns(),
            payload: e.payload(),
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn loop_on(
    endpoints: &[String],
    prefixes: &[String],
    stop: &Stop<'_>,
    mut out: impl Sink,
) -> Result<u64> {
    let sub = Subscriber::connect(endpoints, prefixes, 100_000)?;
    let mut n = 0u64;
    while !stop.requested() {
        let m = match sub.recv(100)? {
            Recv::Message(m) => m,
            Recv::Malformed => {
                tracing::warn!("tap: a message that is not two frames");
                continue;
            }
            Recv::Idle => {
                out.flush()?;
                continue;
            }
        };
        let topic = String::from_utf8_lossy(&m.topic);
        match Envelope::new_checked(&m.body[..]) {
            Ok(e) => {
                out.envelope(&topic, &e)?;
                n += 1;
            }
            Err(err) => tracing::warn!("tap: bad envelope on {topic}: {err}"),
        }
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_digits() {
        assert_eq!(super::hex(&[0, 0x7f, 0xff]), "007fff");
    }
}
