use super::*;

/// A capture (publisher `aa`) that offered exporter A's netflow-v9 (bucket 1, 100 datagrams, 10 refused
/// at the high-water mark, 3 missing before capture) and exporter B's syslog (bucket 2, 50 datagrams).
const CAPTURE: &str = r#"{"role": "capture", "publisher": "aa", "captured_total": 150, "hwm_dropped": 10,
  "pcap_dropped": 2, "exporters": [
  {"exporter": "192.0.2.1", "kind": "netflow-v9", "bucket": 1, "captured": 100, "published": 90,
   "hwm_dropped": 10, "bus_failed": 0,
   "sequence": {"unit": "datagrams", "missing": 3, "late": 1, "resets": 0, "unchecked": 0}},
  {"exporter": "192.0.2.2", "kind": "syslog", "bucket": 2, "captured": 50, "published": 50,
   "hwm_dropped": 0, "bus_failed": 0}]}"#;

/// A proxy that dropped 5 of A's.
const PROXY: &str = r#"{"role": "proxy", "received": 140, "forwarded": 135, "dropped_full": 5,
  "dropped_streams": [{"publisher": "aa", "kind": "netflow-v9", "bucket": 1, "dropped": 5}]}"#;

fn subscriber(role: &str, shard: &str, kinds: &str, streams: &[(&str, u8, u64)]) -> String {
    let streams: Vec<String> = streams
        .iter()
        .map(|(kind, bucket, received)| {
            format!(r#"{{"publisher": "aa", "kind": "{kind}", "bucket": {bucket}, "received": {received}, "missing": 0}}"#)
        })
        .collect();
    format!(
        r#"{{"role": "{role}", "received": 1, "bus_gaps": 0, "shard": "{shard}", "kinds": [{kinds}], "streams": [{}],
        "destinations": [{{"name": "c", "url": "udp://127.0.0.1:9", "forwarded": 7, "failed": 2, "queued": 1}}]}}"#,
        streams.join(",")
    )
}

fn ledger(texts: &[String]) -> Ledger {
    let reports: Vec<Report> = texts
        .iter()
        .filter_map(|t| Report::from_json(t).unwrap())
        .collect();
    Ledger::of(&reports)
}

#[test]
fn each_loss_is_named_at_its_stage() {
    // two shards: bucket 1 is shard 1's (it got 80 of the 85 on the bus), bucket 2 is shard 0's (all 50);
    // shard 1 ran twice (a restart), each incarnation reporting what it got
    let l = ledger(&[
        CAPTURE.into(),
        PROXY.into(),
        subscriber("forward", "0/2", r#""all""#, &[("syslog", 2, 50)]),
        subscriber("forward", "1/2", r#""all""#, &[("netflow-v9", 1, 30)]),
        subscriber("forward", "1/2", r#""all""#, &[("netflow-v9", 1, 50)]),
        r#"{"role": "sink", "received": 3}"#.into(),
    ]);
    assert_eq!(l.before_capture.len(), 1);
    assert_eq!(
        (l.before_capture[0].missing, l.before_capture[0].late),
        (3, 1)
    );
    let c = &l.captures[0];
    assert_eq!((c.hwm_dropped, c.pcap_dropped), (10, 2));
    assert_eq!(c.exporters[0].exporters, ["192.0.2.1"]);
    assert_eq!(l.proxies[0].dropped_full, 5);
    assert_eq!(l.proxies[0].exporters[0].exporters, ["192.0.2.1"]);
    let g = &l.groups[0];
    assert_eq!((g.role.as_str(), g.shards, g.reports), ("forward", 2, 3));
    assert_eq!(
        (g.offered, g.capture_dropped, g.proxy_dropped),
        (150, 10, 5)
    );
    assert_eq!((g.on_bus, g.received, g.lost), (135, 130, 5));
    assert_eq!((g.per_shard[0].lost, g.per_shard[1].lost), (0, 5));
    assert_eq!(g.per_shard[1].reports, 2);
    assert_eq!(g.exporters.len(), 1);
    assert_eq!(
        (g.exporters[0].kind.as_str(), g.exporters[0].lost),
        ("netflow-v9", 5)
    );
    let d = &l.destinations[0];
    assert_eq!(d.forwarded, 21, "summed over the three reports");
    assert_eq!(d.lost, BTreeMap::from([("failed".to_owned(), 6)]));
    assert!(l.render().contains("lost on the way 5"), "{}", l.render());
}

#[test]
fn a_group_is_held_only_to_the_kinds_it_takes() {
    let l = ledger(&[
        CAPTURE.into(),
        subscriber("tap", "0/1", r#""syslog""#, &[("syslog", 2, 50)]),
    ]);
    let g = &l.groups[0];
    assert_eq!((g.offered, g.lost), (50, 0));
    assert_eq!(g.kinds, ["syslog"]);
}

#[test]
fn a_missing_shard_and_an_unknown_publisher_are_noted() {
    let mut sub = subscriber("forward", "0/2", r#""all""#, &[("syslog", 2, 50)]);
    sub = sub.replace(r#""publisher": "aa""#, r#""publisher": "bb""#);
    let l = ledger(&[CAPTURE.into(), sub]);
    let notes = l.notes.join("\n");
    assert!(notes.contains("shard 1/2: no report given"), "{notes}");
    assert!(notes.contains("publisher bb"), "{notes}");
}

#[test]
fn a_file_that_is_not_a_report_is_refused_with_the_reason() {
    assert!(Report::from_json("{").is_err());
    assert!(Report::from_json(r#"{"no_role": 1}"#)
        .unwrap_err()
        .contains("role"));
}
