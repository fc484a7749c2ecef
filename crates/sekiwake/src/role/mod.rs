//! One module per role, listed once in [`roles!`] below: that line gives the role its subcommand (its
//! `Args`, with the doc comment as help), dispatches to its `main`, and lets the configuration file hold the
//! section the role reads by itself (`impl RoleConfig for Args` in the module). A role module holds its flags, how
//! they fold into the configuration, and its glue; its logic lives in a library crate when it is more than
//! glue. Each role runs on the calling thread until its stop is requested (or its source ends).

pub mod capture;
pub mod check_config;
pub mod decode;
pub mod demo;
pub mod detect;
pub mod forward;
pub mod keygen;
pub mod ledger;
pub mod proxy;
pub mod send;
pub mod sink;
pub mod tap;

use std::process::ExitCode;

use anyhow::Result;
use config::{Config, ConfigError};

use crate::context::{Context, RoleConfig};

/// Lists the roles: `Variant => module`, with the subcommand's help as a doc comment.
macro_rules! roles {
    ($($(#[$doc:meta])* $variant:ident => $module:ident,)*) => {
        #[derive(clap::Subcommand, Debug)]
        pub enum Cmd {
            $($(#[$doc])* $variant($module::Args),)*
        }

        impl Cmd {
            pub fn run(self, ctx: &Context) -> Result<ExitCode> {
                match self {
                    $(Cmd::$variant(args) => $module::main(args, ctx),)*
                }
            }
        }

        /// The sections roles read by themselves.
        pub fn sections() -> Vec<&'static str> {
            [$(<$module::Args as RoleConfig>::SECTION,)*].into_iter().flatten().collect()
        }

        /// Every role's check of its own section.
        pub fn check_sections(cfg: &Config) -> Result<(), ConfigError> {
            $(<$module::Args as RoleConfig>::check(cfg)?;)*
            Ok(())
        }
    };
}

roles! {
    /// Capture datagrams (live, from a pcap file, or on a UDP socket) and publish them on the bus.
    Capture => capture,
    /// Subscribe to the bus and send each datagram to the destinations configured for its kind.
    Forward => forward,
    /// Watch the bus for anomalies (rates, silences, new log templates, scans, floods, flaps, storms) and send
    /// alerts (stdout, file, webhook, Alertmanager, syslog, the bus).
    Detect => detect,
    /// Print one JSON line per envelope on the bus (or, with --decode, per decoded record).
    Tap => tap,
    /// Pass the bus on between any number of publishers (captures) and subscribers, counting what a full
    /// subscriber queue makes it drop.
    Proxy => proxy,
    /// Decode the datagrams of a pcap file into records: one JSON line each (docs/records.md).
    Decode => decode,
    /// Generate test traffic of any kind.
    Send => send,
    /// Count what arrives on UDP sockets (a batched-receive collector for tests and benchmarks).
    Sink => sink,
    /// All-in-one demo on loopback: sender -> capture on lo -> bus -> forward -> receiver (needs root).
    Demo => demo,
    /// Write a CURVE key pair for the bus: PREFIX.key (secret, mode 0600) and PREFIX.pub.
    Keygen => keygen,
    /// Who lost which datagrams: the loss ledger of captures', proxies' and subscribers' stats files.
    Ledger => ledger,
    /// Validate a configuration file and exit. Also reads the TLS files it names (CA, certificate, key).
    CheckConfig => check_config,
}
