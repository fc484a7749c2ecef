//! Forward's counters. The subscriber skeleton adds the bus counters every subscriber shares (`received`,
//! `bad_envelope`, `bus_gaps`, `publishers`); conservation: `received = bad_envelope + routed + unrouted +
//! dropped_by_rule`, and per destination see [`DestinationReport`].

use std::collections::BTreeMap;

use runtime::histogram::Percentiles;
use runtime::Summary;
use serde::Serialize;
use wire::classify::RefusalCounts;

/// One destination's counters. Conservation: `routed + templates_sent + informs_retried + engine_probes =
/// wrong_kind + sampled_out + forwarded + refused + dropped_full + failed + wrong_family + queued +
/// dropped_at_exit + informs_held`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DestinationReport {
    pub name: String,
    pub url: String,
    pub kinds: Vec<String>,
    /// Datagrams the rules (and groups) sent here.
    pub routed: u64,
    /// Skipped by 1-in-N sampling (their v9/IPFIX templates still went, counted in `templates_sent`).
    pub sampled_out: u64,
    /// Template-only datagrams made for this destination: sampled-out or load-balanced elsewhere, or replays.
    pub templates_sent: u64,
    /// Datagrams sent changed: tagged with their origin, or SNMPv1 translated to v2c.
    pub rewritten: u64,
    /// `v1_to_v2c`: v1 traps sent as they came because they cannot be translated, per reason (`malformed`,
    /// `generic_trap_out_of_range`, `specific_trap_out_of_range`, `trap_oid_too_long`, `too_large`,
    /// `too_many_bindings`). They are sent like any other datagram (counted in `forwarded`, `refused`...):
    /// not a term of the conservation law.
    pub v1_untranslated: BTreeMap<&'static str, u64>,
    /// Times this destination came back and got its groups' templates again.
    pub template_replays: u64,
    pub forwarded: u64,
    /// UDP: the destination answered ICMP unreachable.
    pub refused: u64,
    /// UDP: ICMP unreachable reports read with the destination's answers (they concern datagrams already
    /// forwarded, so no datagram is refused for them; the destination counts as down all the same).
    pub unreachable_reports: u64,
    /// UDP: the socket buffer stayed full; TCP/TLS: the queue was full.
    pub dropped_full: u64,
    pub failed: u64,
    /// Of `failed`: datagrams routed here while the destination had no route (its socket could not be
    /// opened; it is tried again every 2 s).
    #[serde(skip)]
    pub failed_while_unreachable: u64,
    /// TCP/TLS: datagrams a rule sent here that are not syslog (not sent: these destinations carry syslog).
    pub wrong_kind: u64,
    /// Spoofed UDP: an exporter of the other IP version than the destination's.
    pub wrong_family: u64,
    /// TCP/TLS: held now, waiting for the connection.
    pub queued: u64,
    /// TCP/TLS: still held at exit.
    pub dropped_at_exit: u64,
    /// TCP/TLS: messages sent again after a connection broke before they were acknowledged.
    pub resent: u64,
    /// UDP: SNMP Responses the destination sent back (to informs; in capture mode the sender is not the one
    /// acknowledged, see docs/ARCHITECTURE.md).
    pub responses: u64,
    /// UDP: SNMP Reports the destination sent back (SNMPv3 engine discovery, USM errors).
    pub reports: u64,
    /// UDP: anything else the destination sent back (including SNMPv3 answers this forwarder cannot read).
    pub answers_other: u64,
    /// UDP: informs delivered as this forwarder's own (`informs = "inform"`): taken (sent at once, or held
    /// until the destination's SNMPv3 engine is known), acknowledged by the destination, sent again, and given
    /// up after the last try (or to stay within the in-flight bound).
    pub informs_sent: u64,
    pub informs_acknowledged: u64,
    pub informs_retried: u64,
    pub informs_given_up: u64,
    /// Of those sent, waiting for the destination's Response now.
    pub informs_in_flight: u64,
    /// SNMPv3 (`snmp_user`): informs routed here while the destination's engine was not known yet, held
    /// (not sent then; their sends once it is known count in `informs_retried`), and the discovery probes
    /// sent to learn it.
    pub informs_held: u64,
    pub engine_probes: u64,
    pub connects: u64,
    pub disconnects: u64,
    /// TCP/TLS: connect or TLS handshake attempts that failed.
    pub connect_failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    /// TCP/TLS: the latest connect or connection error (refused, TLS certificate not trusted, peer closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Forward's own counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ForwardReport {
    /// Datagrams sent to at least one destination.
    pub routed: u64,
    pub unrouted: u64,
    /// Datagrams a `drop` rule matched.
    pub dropped_by_rule: u64,
    /// Received datagrams that capture flagged as not fitting their port's kind (routed like the others).
    pub mismatched: u64,
    /// `mismatched` per kind and reason.
    pub refused: RefusalCounts,
    /// Datagrams each rule matched: the configured rules in order, then one implicit rule per destination
    /// with `kinds`.
    pub rules_matched: Vec<u64>,
    /// From capture (the envelope's timestamp) to the end of the send, per datagram forwarded. Meaningful for
    /// live capture; a file replay carries the file's old timestamps.
    pub latency_ns: Percentiles,
    pub destinations: Vec<DestinationReport>,
}

impl DestinationReport {
    fn line(&self) -> String {
        let mut line = format!(
            "{}: forwarded={} refused={} dropped_full={} failed={} sampled_out={} queued={}",
            self.name,
            self.forwarded,
            self.refused,
            self.dropped_full,
            self.failed,
            self.sampled_out,
            self.queued
        );
        if self.responses + self.reports + self.answers_other > 0 {
            line += &format!(
                " responses={} reports={} answers_other={}",
                self.responses, self.reports, self.answers_other
            );
        }
        if self.informs_sent + self.informs_held > 0 {
            line += &format!(
                " informs_sent={} informs_held={} informs_acknowledged={} informs_retried={} informs_given_up={} informs_in_flight={}",
                self.informs_sent,
                self.informs_held,
                self.informs_acknowledged,
                self.informs_retried,
                self.informs_given_up,
                self.informs_in_flight
            );
        }
        let untranslated: u64 = self.v1_untranslated.values().sum();
        if untranslated > 0 {
            line += &format!(" v1_untranslated={untranslated}");
        }
        if let Some(connected) = self.connected {
            line += &format!(
                " dropped_at_exit={} resent={} connects={} disconnects={} connect_failures={}",
                self.dropped_at_exit,
                self.resent,
                self.connects,
                self.disconnects,
                self.connect_failures
            );
            if let (false, Some(e)) = (connected, &self.last_error) {
                line += &format!(" last_error={e:?}");
            }
        }
        line
    }
}

impl Summary for ForwardReport {
    fn line(&self) -> String {
        let dests: Vec<String> = self
            .destinations
            .iter()
            .map(DestinationReport::line)
            .collect();
        format!(
            "unrouted={} dropped_by_rule={} latency_us_p50/p99={}/{} | {}",
            self.unrouted,
            self.dropped_by_rule,
            self.latency_ns.p50 / 1000,
            self.latency_ns.p99 / 1000,
            dests.join(" | ")
        )
    }
}
