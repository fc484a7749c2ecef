//! Pure wire-format code for the hot path: no I/O, no allocation, no `unsafe`.
//!
//! A captured frame goes through [`link::network_layer`] (strip the link header), [`ip::parse`]
//! (IPv4/IPv6, extension headers, fragment detection), [`udp::Datagram::parse`] and finally
//! [`classify::Classifier::classify`], which names the telemetry [`kind::Kind`] from the destination port
//! and confirms it from the payload.
#![forbid(unsafe_code)]

pub mod classify;
pub mod error;
pub mod ip;
pub mod kind;
pub mod link;
pub mod syslog;
pub mod udp;

pub use error::WireError;
