//! Records as JSON lines: a [`Decoder`] in front of a writer, for `decode --pcap` and `tap --decode`.

use std::io::{self, Write};

use crate::{Datagram, DecodeError, Decoder, Options, Stats, UsmError};

/// Problems logged one by one; past this they are only counted.
const MAX_WARNINGS: u64 = 100;

/// Decodes datagrams and writes their records as JSON lines.
pub struct Printer<W: Write> {
    decoder: Decoder,
    out: W,
    problems: u64,
}

impl<W: Write> Printer<W> {
    pub fn new(options: Options, out: W) -> Result<Self, UsmError> {
        Ok(Self {
            decoder: Decoder::new(options)?,
            out,
            problems: 0,
        })
    }

    /// Writes the datagram's records; a problem decoding it is logged (and counted), a failed write returned.
    pub fn datagram(&mut self, d: &Datagram<'_>) -> io::Result<()> {
        let (out, mut failed) = (&mut self.out, None);
        let r = self.decoder.decode(d, &mut |rec| {
            if failed.is_none() {
                failed = crate::write_json(out, &rec).err();
            }
        });
        if let Err(problems) = r {
            self.warn(d, &problems);
        }
        failed.map_or(Ok(()), Err)
    }

    fn warn(&mut self, d: &Datagram<'_>, problems: &[DecodeError]) {
        for p in problems {
            if self.problems < MAX_WARNINGS {
                tracing::warn!("decode: {} from {}: {p}", d.kind, d.exporter);
            }
            self.problems += 1;
        }
    }

    /// The writer, for lines that are not records.
    pub fn writer(&mut self) -> &mut W {
        &mut self.out
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn stats(&self) -> Stats {
        self.decoder.stats
    }

    pub fn template_stats(&self) -> wire::netflow::cache::CacheStats {
        self.decoder.template_stats()
    }
}
