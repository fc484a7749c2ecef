//! `tcp://HOST:PORT[?framing=lf|octet-counting]` and `tls://HOST:PORT[...]`, parsed and checked once.

use std::fmt;
use std::net::IpAddr;

use super::StreamError;

/// The byte stream under the syslog frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP (RFC 6587).
    Tcp,
    /// TLS over TCP (RFC 5425), rustls with the `ring` provider.
    Tls,
}

/// How messages are delimited in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `LEN SP MSG`, LEN = decimal byte count of MSG (RFC 6587 §3.4.1, RFC 5425 §4.3). The default; survives
    /// LF inside messages.
    OctetCounting,
    /// `MSG LF` (RFC 6587 §3.4.2, non-transparent framing). One trailing LF already in the datagram is
    /// replaced, not doubled. A receiver splits messages that contain LF.
    Lf,
}

/// A parsed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub transport: Transport,
    /// Host name or IP address literal (without brackets).
    pub host: String,
    pub port: u16,
    pub framing: Framing,
}

impl Destination {
    /// Parses `tcp://HOST:PORT` or `tls://HOST:PORT`, with an optional `?framing=lf|octet-counting`. IPv6
    /// literals go in brackets: `tls://[::1]:6514`.
    pub fn parse(s: &str) -> Result<Self, StreamError> {
        let bad = |reason: &str| StreamError::BadDestination {
            destination: s.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad("expected tcp://HOST:PORT or tls://HOST:PORT"))?;
        let transport = match scheme {
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => return Err(bad("scheme must be tcp or tls")),
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, port) = split_host_port(authority).map_err(|r| bad(&r))?;
        check_host(host).map_err(|r| bad(&r))?;
        let framing = parse_query(query).map_err(|r| bad(&r))?;
        Ok(Self {
            transport,
            host: host.to_string(),
            port,
            framing,
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        match self.host.contains(':') {
            true => write!(f, "{scheme}://[{}]:{}", self.host, self.port)?,
            false => write!(f, "{scheme}://{}:{}", self.host, self.port)?,
        }
        match self.framing {
            Framing::Lf => f.write_str("?framing=lf"),
            Framing::OctetCounting => Ok(()),
        }
    }
}

fn split_host_port(authority: &str) -> Result<(&str, u16), String> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']').ok_or("unclosed '[' in host")?;
            (host, after.strip_prefix(':').ok_or("missing :PORT")?)
        }
        None => authority.rsplit_once(':').ok_or("missing :PORT")?,
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number 1-65535"))?;
    if port == 0 {
        return Err("port 0 is not a destination".into());
    }
    Ok((host, port))
}

/// An IP literal or a DNS name (letters, digits, '-', '.', '_'; labels of 1-63, at most 253 in all).
fn check_host(host: &str) -> Result<(), String> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if host.is_empty() || host.len() > 253 {
        return Err("host must be 1-253 characters".into());
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match host.trim_end_matches('.').split('.').all(label_ok) {
        true => Ok(()),
        false => Err(format!(
            "host {host:?} is neither an IP address nor a DNS name"
        )),
    }
}

fn parse_query(query: &str) -> Result<Framing, String> {
    let mut framing = Framing::OctetCounting;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        framing = match pair.split_once('=') {
            Some(("framing", "lf")) => Framing::Lf,
            Some(("framing", "octet-counting")) => Framing::OctetCounting,
            Some(("framing", v)) => return Err(format!("framing {v:?}: use lf or octet-counting")),
            _ => return Err(format!("unknown option {pair:?} (known: framing)")),
        };
    }
    Ok(framing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes_hosts_and_framing() {
        let d = Destination::parse("tcp://logs.example.net:514?framing=lf").unwrap();
        assert_eq!(
            (d.transport, d.host.as_str(), d.port, d.framing),
            (Transport::Tcp, "logs.example.net", 514, Framing::Lf)
        );
        let d = Destination::parse("tls://[::1]:6514").unwrap();
        assert_eq!(
            (d.transport, d.host.as_str(), d.framing),
            (Transport::Tls, "::1", Framing::OctetCounting)
        );
        assert_eq!(d.to_string(), "tls://[::1]:6514");
        assert_eq!(
            Destination::parse("tcp://10.0.0.1:601").unwrap().host,
            "10.0.0.1"
        );
    }

    #[test]
    fn rejects_bad_destinations_with_a_reason() {
        for bad in [
            "udp://h:1",
            "tcp://h",
            "tcp://h:0",
            "tcp://h:99999",
            "tcp://:514",
            "tcp://bad host:514",
            "tcp://[::1:514",
            "tcp://h:514?framing=crlf",
            "tcp://h:514?x=1",
            "h:514",
        ] {
            let e = Destination::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
