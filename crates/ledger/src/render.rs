//! The ledger as text: one section per stage, in the order a datagram passes them.

use std::fmt::Write as _;

use crate::{ExporterLoss, GroupLoss, Ledger};

pub fn text(l: &Ledger) -> String {
    let mut out = String::from("Loss ledger\n");
    before_capture(l, &mut out);
    for c in &l.captures {
        let _ = writeln!(out, "\nCapture {} (captured {})", c.publisher, c.captured);
        let _ = writeln!(
            out,
            "  kernel and libpcap    {:>10}  (libpcap {}, interface {}, listeners {})",
            c.pcap_dropped + c.pcap_if_dropped + c.listener_dropped,
            c.pcap_dropped,
            c.pcap_if_dropped,
            c.listener_dropped
        );
        let _ = writeln!(
            out,
            "  reassembly            {:>10}  fragments (expired {}, dropped {})",
            c.fragments_expired + c.fragments_dropped,
            c.fragments_expired,
            c.fragments_dropped
        );
        let _ = writeln!(out, "  bus full (hwm)        {:>10}", c.hwm_dropped);
        let _ = writeln!(out, "  bus failed            {:>10}", c.bus_failed);
        exporters(&c.exporters, &mut out);
    }
    for (i, p) in l.proxies.iter().enumerate() {
        let _ = writeln!(
            out,
            "\nProxy {} (received {})\n  subscriber queue full {:>10}",
            i + 1,
            p.received,
            p.dropped_full
        );
        exporters(&p.exporters, &mut out);
    }
    for g in &l.groups {
        group(g, &mut out);
    }
    if !l.destinations.is_empty() {
        out.push_str("\nDestinations\n");
    }
    for d in &l.destinations {
        let lost: Vec<String> = d.lost.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let lost = match lost.is_empty() {
            true => "nothing lost".to_owned(),
            false => lost.join(", "),
        };
        let name = match d.name == d.url {
            true => d.url.clone(),
            false => format!("{} ({})", d.name, d.url),
        };
        let _ = writeln!(out, "  {name}: forwarded {}; {lost}", d.forwarded);
    }
    if !l.notes.is_empty() {
        out.push_str("\nNotes\n");
    }
    for n in &l.notes {
        let _ = writeln!(out, "  - {n}");
    }
    out
}

fn before_capture(l: &Ledger, out: &mut String) {
    out.push_str("\nBefore capture (holes in the exporters' own sequence numbers)\n");
    if l.before_capture.is_empty() {
        out.push_str("  no exporter with sequence numbers\n");
        return;
    }
    let _ = writeln!(
        out,
        "  {:<39} {:<11} {:>10} {:<9} {:>6} {:>6} {:>9}",
        "exporter", "kind", "missing", "unit", "late", "resets", "unchecked"
    );
    for e in &l.before_capture {
        let _ = writeln!(
            out,
            "  {:<39} {:<11} {:>10} {:<9} {:>6} {:>6} {:>9}",
            e.exporter, e.kind, e.missing, e.unit, e.late, e.resets, e.unchecked
        );
    }
}

fn group(g: &GroupLoss, out: &mut String) {
    let _ = writeln!(
        out,
        "\nSubscribers: {}, {} shard(s), {} report(s), kinds {}",
        g.role,
        g.shards,
        g.reports,
        g.kinds.join(" ")
    );
    let _ = writeln!(
        out,
        "  offered {} - capture dropped {} - proxies dropped {} = {} on the bus; received {}; lost on the way {}",
        g.offered,
        g.capture_dropped,
        g.proxy_dropped,
        g.on_bus,
        g.received,
        g.lost
    );
    for s in &g.per_shard {
        let _ = writeln!(
            out,
            "  shard {:<6} {} report(s): expected {}, received {}, lost {}",
            s.shard, s.reports, s.expected, s.received, s.lost
        );
    }
    exporters(&g.exporters, out);
}

fn exporters(losses: &[ExporterLoss], out: &mut String) {
    for e in losses {
        let _ = writeln!(out, "    {} {}: {}", e.exporters.join(", "), e.kind, e.lost);
    }
}
