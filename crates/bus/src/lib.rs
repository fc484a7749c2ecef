//! The ZeroMQ bus. This is the only crate that links libzmq.
//!
//! A [`Publisher`] is an XPUB socket with `ZMQ_XPUB_NODROP`: a send that would pass a subscriber's high-water
//! mark fails at once (never blocks) and the caller counts the drop. A [`Subscriber`] is a SUB socket that
//! may connect to several publishers; a [`proxy::Proxy`] sits between many of each. [`subscriber`] is the
//! skeleton every subscribing role runs on, and [`sequence`] numbers streams on the publishing side and
//! finds the gaps on the subscribing side.

// The only unsafe code: socket options libzmq has that the zmq crate does not wrap (socket.rs).
#![deny(unsafe_code)]

pub mod curve;
pub mod proxy;
pub mod sequence;
mod socket;
pub mod subscriber;

pub use socket::{BusError, Publisher, Received, Recv, Sent, Subscriber};
