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
}

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
        })
    }

    pub(crate) fn read_batch(
        &mut self,
        each: &mut dyn FnMut(Packet<'_>),
    ) -> Result<Status, CaptureError> {
        for _ in 0..BATCH {
            let p = match self.cap.next_packet() {
                Ok(p) => p,
                Err(pcap::Error::NoMorePackets) => return Ok(Status::Ended),
                // A truncated last record reads as an error: treat it as the end of the file.
                Err(_) => return Ok(Status::Ended),
            };
            let ts = timeval_ns(p.header.ts.tv_sec, p.header.ts.tv_usec, true);
            if self.pace {
                wait_until_due(&mut self.start, ts);
            }
            each(Packet {
                ts_ns: ts,
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
}

fn wait_until_due(start: &mut Option<(u64, Instant)>, ts: u64) {
    let (t0, wall0) = *start.get_or_insert((ts, Instant::now()));
    let due = wall0 + Duration::from_nanos(ts.saturating_sub(t0));
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}
