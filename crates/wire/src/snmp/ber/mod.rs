//! The subset of BER that SNMP uses, read and written in one place: one-byte tags, definite lengths (short
//! form, or long form of at most four bytes), and every element inside its parent.
//!
//! - [`tag`]: the tags SNMP messages carry (universal, SMI application types, exceptions, PDU types).
//! - reading: a `Reader` walks the elements of one constructed value, each `Tlv` borrowing its contents and
//!   knowing their offset in the datagram, so errors point at the byte; [`peek`] reads one header for a quick
//!   look (classification) without walking the message.
//! - [`write`]: encoding (elements, lengths, integers, OIDs, variable bindings) for the rewrites a relay
//!   makes and for generated traffic.

mod read;
pub mod tag;
pub mod write;

pub(crate) use read::{int32, non_negative, signed, unsigned, Reader, Tlv};
pub use read::{integer_value, peek, Header};
