//! `sekiwake send syslog`: a test sender. Every message is unique (`seq=N` in its text) so a receiver can
//! count loss and duplicates; batched with sendmmsg(2) and paced to the asked rate.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, Socket, Type};
use udpio::{send_batch, SendOutcome};

use super::Stop;
use crate::timefmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyslogFormat {
    Rfc3164,
    Rfc5424,
}

#[derive(Debug, Clone)]
pub struct SendOptions {
    pub to: SocketAddr,
    /// Bind to this source address (e.g. another 127/8 address to play another exporter).
    pub source: Option<SocketAddr>,
    /// Datagrams per second; 0 = as fast as possible.
    pub rate: u64,
    pub count: u64,
    pub format: SyslogFormat,
    /// Message size in bytes (padded); at least the header.
    pub size: usize,
    /// Progress lines on stderr.
    pub progress: bool,
}

/// What was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: u64,
    /// Sends refused by the destination (ICMP unreachable) and retried.
    pub refused: u64,
    /// Datagrams that could not be sent (other errors).
    pub failed: u64,
    pub elapsed: Duration,
}

const BATCH: usize = 64;
const PRI: u8 = 134; // local0.info

/// Builds message `seq`: unique text, padded with a repeating alphabet to `size` bytes.
pub fn syslog_message(format: SyslogFormat, seq: u64, ts_ns: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    let pid = std::process::id();
    let text = match format {
        SyslogFormat::Rfc3164 => {
            format!(
                "<{PRI}>{} sekiwake-send app[{pid}]: seq={seq} ",
                timefmt::rfc3164(ts_ns)
            )
        }
        SyslogFormat::Rfc5424 => {
            format!(
                "<{PRI}>1 {} sekiwake-send app {pid} ID47 - seq={seq} ",
                timefmt::rfc5424(ts_ns)
            )
        }
    };
    out.extend_from_slice(text.as_bytes());
    let pad = size.saturating_sub(out.len());
    out.extend((0..pad).map(|i| b'a' + (i % 26) as u8));
}

/// The `seq=N` a generated message carries.
pub fn seq_of(msg: &[u8]) -> Option<u64> {
    let at = msg.windows(4).position(|w| w == b"seq=")? + 4;
    let digits = msg[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&msg[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

fn connect(o: &SendOptions) -> Result<Socket> {
    let s = Socket::new(Domain::for_address(o.to), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_send_buffer_size(4 << 20);
    if let Some(src) = o.source {
        s.bind(&src.into()).with_context(|| format!("bind {src}"))?;
    }
    s.connect(&o.to.into())
        .with_context(|| format!("connect {}", o.to))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

pub fn run(o: &SendOptions, stop: &Stop<'_>) -> Result<SendReport> {
    let sock = connect(o)?;
    let start = Instant::now();
    let mut r = SendReport::default();
    let mut bufs: Vec<Vec<u8>> = (0..BATCH)
        .map(|_| Vec::with_capacity(o.size.max(128)))
        .collect();
    let mut next_progress = start + Duration::from_secs(1);
    let mut seq = 0u64;
    while seq < o.count && !stop.requested() {
        let n = due(o, start.elapsed(), seq).min(BATCH as u64);
        if n == 0 {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        let ts = capture::now_ns();
        for (i, b) in bufs.iter_mut().take(n as usize).enumerate() {
            syslog_message(o.format, seq + i as u64, ts, o.size, b);
        }
        let msgs: Vec<&[u8]> = bufs[..n as usize].iter().map(|b| b.as_slice()).collect();
        send_all(&sock, &msgs, &mut r);
        seq += n;
        if o.progress && Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            eprintln!(
                "send: {} sent, {:.0}/s",
                r.sent,
                rate(r.sent, start.elapsed())
            );
        }
    }
    r.elapsed = start.elapsed();
    Ok(r)
}

/// How many messages should go out now to keep to the rate.
fn due(o: &SendOptions, elapsed: Duration, sent: u64) -> u64 {
    let target = if o.rate == 0 {
        o.count
    } else {
        ((o.rate as f64) * elapsed.as_secs_f64()) as u64 + 1
    };
    target.min(o.count).saturating_sub(sent)
}

pub fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Sends every message, waiting while the socket buffer is full. A refusal (the ICMP port unreachable of an
/// earlier datagram, reported on this send) means this datagram was not sent: it is counted and sent again,
/// so that sending to a port nobody listens on — what capture watches — still sends exactly `count`.
fn send_all(sock: &Socket, msgs: &[&[u8]], r: &mut SendReport) {
    let mut at = 0;
    while at < msgs.len() {
        match send_batch(sock.as_raw_fd(), &msgs[at..]) {
            SendOutcome::Sent(n) => {
                r.sent += n as u64;
                at += n;
            }
            SendOutcome::WouldBlock => {
                let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u8));
            }
            SendOutcome::Failed(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                r.refused += 1
            }
            SendOutcome::Failed(_) => {
                r.failed += 1;
                at += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_unique_sized_and_classify() {
        let mut a = Vec::new();
        syslog_message(SyslogFormat::Rfc3164, 7, 0, 200, &mut a);
        assert_eq!(a.len(), 200);
        assert_eq!(seq_of(&a), Some(7));
        let c = wire::classify::confirm(wire::kind::Family::Syslog, &a).unwrap();
        assert_eq!(c.variant, 1);
        syslog_message(SyslogFormat::Rfc5424, 123456, 0, 10, &mut a);
        assert!(a.len() > 10, "never cut below the header");
        assert_eq!(seq_of(&a), Some(123456));
        assert_eq!(
            wire::classify::confirm(wire::kind::Family::Syslog, &a)
                .unwrap()
                .variant,
            2
        );
    }

    #[test]
    fn pacing() {
        let o = SendOptions {
            to: "127.0.0.1:9".parse().unwrap(),
            source: None,
            rate: 1000,
            count: 10_000,
            format: SyslogFormat::Rfc3164,
            size: 100,
            progress: false,
        };
        assert_eq!(due(&o, Duration::from_millis(500), 0), 501);
        assert_eq!(due(&o, Duration::from_millis(500), 501), 0);
        assert_eq!(due(&o, Duration::from_secs(100), 9_990), 10);
    }
}
