//! The bus wire format (docs/wire-format.md): a topic frame and a body frame made of a fixed 96-byte
//! little-endian header followed by the original UDP payload.
#![forbid(unsafe_code)]

mod header;
mod selector;
mod shard;
mod topic;

pub use header::{
    interface_field, Envelope, EnvelopeError, Header, FLAG_IPV6, FLAG_REASSEMBLED, HEADER_LEN,
    MAGIC, VERSION,
};
pub use selector::{prefixes, KindSelector};
pub use shard::{shard_prefixes, Shard};
pub use topic::{bucket, exporter_bucket, write_topic, BUCKETS};
pub use wire::classify::{FLAG_INFORM, FLAG_MISMATCHED};
