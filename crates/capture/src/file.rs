//! Replay of a pcap or pcapng file, as fast as possible or at the recorded pace.

use std::time::{Duration, Instant};

use pcap::{Capture, Offline, Precision};
use wire::link::LinkType;

use crate::{timeval_ns, Body, CaptureError, Packet, Status};

/// Packets handed over per call, so the caller can check for shutdown and report.
const BATCH: usize = 1024;

pub struct FileSource {
    cap: Capture<Offline>,
    link: LinkType,
    pace: bool,
    /// (first packet time, wall clock when it was replayed), for pacing.
    start: Option<(u64, Instant)>,
    /// With `pace`: the next packet, read but not yet due.
    held: Option<Held>,
}

struct Held {
    ts: u64,
    data: Vec<u8>,
    wire_len: u32,
}

/// Longest single sleep while pacing, so that a stop request is seen promptly.
const PACE_SLICE: Duration = Duration::from_millis(50);

impl FileSource {
    pub fn open(path: &str, pace: bool) -> Result<Self, CaptureError> {
        let cap = Capture::from_file_with_precision(path, Precision::Nano).map_err(|source| {
            CaptureError::File {
                path: path.to_owned(),
                source,
            }
        })?;
        let link = LinkType(cap.get_datalink().0);
        if !link.is_supported() {
            return Err(CaptureError::LinkType {
                path: path.to_owned(),
                link: link.0,
            });
        }
        Ok(Self {
            cap,
            link,
            pace,
            start: None,
            held: None,
        })
    }

    pub(crate) fn read_batch(
        &mut self,
        each: &mut dyn FnMut(Packet<'_>),
    ) -> Result<Status, CaptureError> {
        if self.pace {
            return self.read_paced(each);
        }
        for _ in 0..BATCH {
            let p = match self.cap.next_packet() {
                Ok(p) => p,
                // The end of the file, or a truncated last record (which libpcap reports as an error).
                Err(_) => return Ok(Status::Ended),
            };
            each(Packet {
                ts_ns: timeval_ns(p.header.ts.tv_sec, p.header.ts.tv_usec, true),
                iface: "pcap",
                body: Body::Frame {
                    link: self.link,
                    data: p.data,
                    wire_len: p.header.len,
                },
            });
        }
        Ok(Status::Open)
    }

    /// Hands over packets as they fall due; returns after at most one short sleep so the caller can stop.
    fn read_paced(&mut self, each: &mut dyn FnMut(Packet<'_>)) -> Result<Status, CaptureError> {
        for _ in 0..BATCH {
            if self.held.is_none() {
                let Ok(p) = self.cap.next_packet() else {
                    return Ok(Status::Ended);
                };
                self.held = Some(Held {
                    ts: timeval_ns(p.header.ts.tv_sec, p.header.ts.tv_usec, true),
                    data: p.data.to_vec(),
                    wire_len: p.header.len,
                });
            }
            let Some(h) = self
                .held
                .take_if(|h| due_in(&mut self.start, h.ts).is_zero())
            else {
                let wait = self
                    .held
                    .as_ref()
                    .map_or(Duration::ZERO, |h| due_in(&mut self.start, h.ts));
                std::thread::sleep(wait.min(PACE_SLICE));
                return Ok(Status::Open);
            };
            each(Packet {
                ts_ns: h.ts,
                iface: "pcap",
                body: Body::Frame {
                    link: self.link,
                    data: &h.data,
                    wire_len: h.wire_len,
                },
            });
        }
        Ok(Status::Open)
    }
}

/// How long until a packet recorded at `ts` is due, the first packet setting the clock.
fn due_in(start: &mut Option<(u64, Instant)>, ts: u64) -> Duration {
    let (t0, wall0) = *start.get_or_insert((ts, Instant::now()));
    let due = wall0 + Duration::from_nanos(ts.saturating_sub(t0));
    due.saturating_duration_since(Instant::now())
}
