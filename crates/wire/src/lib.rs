//! Pure wire-format code: no I/O and no `unsafe`.
//!
//! The hot path allocates nothing: a captured frame goes through [`encap::Walk`] (strip the link header and
//! any PPPoE, MPLS, IP-in-IP, GRE/ERSPAN or VXLAN encapsulation), [`ip::parse`] (IPv4/IPv6, extension
//! headers, fragment detection), [`udp::Datagram::parse`] and finally [`classify::Classifier::classify`],
//! which names the telemetry [`kind::Kind`] from the destination port and confirms it from the payload.
//!
//! The record decoders ([`syslog`], [`netflow`], [`sflow`], [`snmp`]) turn a payload into fields. They read
//! hostile input: every length is checked before use, and what they allocate (template caches, SNMP values)
//! is bounded by a cap or by the datagram's own size, whatever a header claims.
#![forbid(unsafe_code)]

pub mod classify;
pub mod encap;
pub mod error;
pub mod ip;
pub mod kind;
pub mod link;
pub mod netflow;
pub mod sflow;
pub mod snmp;
pub mod syslog;
pub mod timefmt;
pub mod udp;

pub use error::WireError;
