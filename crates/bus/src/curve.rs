//! CURVE on the bus (libzmq's CurveZMQ: authenticated encryption between the two ends of each connection).
//!
//! A socket that binds (capture's publisher, the proxy's two sides) is a CURVE server: it holds a secret key and
//! lets in only clients whose public key is on its allow-list (a file of keys, or a directory of `.pub` files),
//! checked by a ZAP handler on its own thread; the list is read again on SIGHUP. A socket that connects
//! (subscribers, a capture that connects to a proxy) is a CURVE client: it holds a key pair of its own and the
//! server's public key, so that it talks to that server only. Once keys are configured, a plaintext peer fails
//! the handshake. Every refusal is counted and logged: a client key not on the list by the ZAP handler (with
//! the peer's address and key), a failed handshake (plaintext peer, wrong server key) by a socket monitor.
//!
//! Keys are written as libzmq writes them: 40 characters of Z85 for 32 bytes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::socket::curve_public;

/// A key: 32 bytes.
pub type Key = [u8; 32];

/// Where ZAP requests reach a context's handler (fixed by the ZAP specification, RFC 27).
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";
/// The ZAP domain our server sockets name, so that libzmq asks the handler about every connection.
const ZAP_DOMAIN: &str = "sekiwake";
/// A refused peer may come back at once (a plaintext client reconnects every 100 ms): after the first few,
/// one line of each kind at most this often, with the count so far.
const LOG_EVERY: Duration = Duration::from_secs(10);
const LOGGED_AT_ONCE: u64 = 3;

/// A key file or key text that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Bad {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: no key in it (one line of 40 Z85 characters)")]
    Empty { path: String },
}

/// Decodes one key written in Z85.
pub fn decode_key(text: &str) -> Result<Key, String> {
    let text = text.trim();
    if text.len() != 40 {
        return Err(format!(
            "a CURVE key is 40 characters of Z85, not {}",
            text.len()
        ));
    }
    let bytes = zmq::z85_decode(text).map_err(|e| format!("not Z85: {e}"))?;
    bytes.try_into().map_err(|_| "not a 32-byte key".to_owned())
}

pub fn encode_key(key: &Key) -> String {
    // 32 bytes are a multiple of 4: Z85 cannot refuse them
    zmq::z85_encode(key).unwrap_or_default()
}

/// The keys of a file: one per line, blank lines and `#` comments skipped.
pub fn read_keys(path: &Path) -> Result<Vec<Key>, KeyError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        keys.push(decode_key(line).map_err(|message| KeyError::Bad {
            path: shown.clone(),
            line: n + 1,
            message,
        })?);
    }
    Ok(keys)
}

/// The one key of a key file.
pub fn read_key(path: &Path) -> Result<Key, KeyError> {
    read_keys(path)?
        .into_iter()
        .next()
        .ok_or_else(|| KeyError::Empty {
            path: path.display().to_string(),
        })
}

/// The allow-list: every key of a file, or of every `*.pub` file in a directory.
pub fn read_allowed(path: &Path) -> Result<HashSet<Key>, KeyError> {
    if !path.is_dir() {
        return Ok(read_keys(path)?.into_iter().collect());
    }
    let entries = std::fs::read_dir(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut keys = HashSet::new();
    for entry in entries.flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "pub") {
            keys.extend(read_keys(&p)?);
        }
    }
    Ok(keys)
}

/// A new key pair: (public, secret).
pub fn generate() -> Result<(Key, Key), zmq::Error> {
    let pair = zmq::CurveKeyPair::new()?;
    Ok((pair.public_key, pair.secret_key))
}

/// The public key of a secret key.
pub fn public_of(secret: &Key) -> Result<Key, zmq::Error> {
    let public = curve_public(&encode_key(secret))?;
    decode_key(&public).map_err(|_| zmq::Error::EINVAL)
}

/// What a process's sockets need: its own key pair, and the server's public key (to connect) or the
/// allow-list (to bind). `None` of everything: plaintext.
#[derive(Debug, Clone, Default)]
pub struct Curve {
    /// This process's (public, secret) pair.
    pub keys: Option<(Key, Key)>,
    /// The public key of the servers this process connects to.
    pub server_public: Option<Key>,
    /// The allow-list of the clients this process's binding sockets accept (a file or a directory).
    pub allowed_clients: Option<PathBuf>,
}

impl Curve {
    pub fn enabled(&self) -> bool {
        self.keys.is_some()
    }

    /// Makes `sock` a CURVE server (before it binds). Needs the key pair and an allow-list.
    pub(crate) fn server(&self, sock: &zmq::Socket) -> Result<(), CurveError> {
        let Some((_, secret)) = &self.keys else {
            return Ok(());
        };
        if self.allowed_clients.is_none() {
            return Err(CurveError::NoAllowList);
        }
        sock.set_curve_server(true)?;
        sock.set_curve_secretkey(secret)?;
        sock.set_zap_domain(ZAP_DOMAIN)?;
        Ok(())
    }

    /// Makes `sock` a CURVE client (before it connects). Needs the key pair and the server's key.
    pub(crate) fn client(&self, sock: &zmq::Socket) -> Result<(), CurveError> {
        let Some((public, secret)) = &self.keys else {
            return Ok(());
        };
        let server = self.server_public.ok_or(CurveError::NoServerKey)?;
        sock.set_curve_serverkey(&server)?;
        sock.set_curve_publickey(public)?;
        sock.set_curve_secretkey(secret)?;
        Ok(())
    }
}

/// CURVE could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CurveError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("zmq: {0}")]
    Zmq(#[from] zmq::Error),
    #[error("{0}")]
    Setup(String),
    #[error("a socket that binds with CURVE needs an allow-list of client keys (bus.curve_allowed_clients)")]
    NoAllowList,
    #[error("a socket that connects with CURVE needs the server's public key (bus.curve_server_public_key_file)")]
    NoServerKey,
}

/// What the gatekeeper counted.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AuthStats {
    /// Connections whose client key is on the allow-list.
    pub curve_accepted: u64,
    /// Connections refused because their client key is not on the list.
    pub curve_refused_key: u64,
    /// Handshakes that failed: a plaintext peer, a client that expected another server key, garbage.
    pub curve_refused_handshake: u64,
    /// Times the allow-list was read again (SIGHUP), and times that failed (the old list stays).
    pub curve_reloads: u64,
    pub curve_reload_failures: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    refused_key: AtomicU64,
    refused_handshake: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

/// The ZAP handler and the handshake monitor of one context's server sockets, on their own thread.
pub struct Gatekeeper {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Gatekeeper {
    /// Starts the handler in `ctx` (before any server socket binds) and watches the handshakes of `watched`
    /// sockets, which it tells to report to it through `inproc://` monitors.
    pub fn start(
        ctx: &zmq::Context,
        allowed: &Path,
        watched: &[&zmq::Socket],
    ) -> Result<Self, CurveError> {
        let keys = read_allowed(allowed)?;
        let zap = ctx.socket(zmq::REP)?;
        zap.set_linger(0)?;
        zap.bind(ZAP_ENDPOINT)?;
        let mut monitors = Vec::new();
        for (i, sock) in watched.iter().enumerate() {
            let ep = format!("inproc://sekiwake-monitor-{:p}-{i}", *sock);
            sock.monitor(
                &ep,
                (zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                    | zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                    | zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) as i32,
            )?;
            let pair = ctx.socket(zmq::PAIR)?;
            pair.set_linger(0)?;
            pair.connect(&ep)?;
            monitors.push(pair);
        }
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
            .map_err(|e| CurveError::Setup(format!("installing the SIGHUP handler: {e}")))?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut gate = Gate {
            zap,
            monitors,
            keys,
            allowed: allowed.to_path_buf(),
            hup,
            counters: counters.clone(),
            stop: stop.clone(),
            logged: [None; 2],
        };
        let thread = std::thread::Builder::new()
            .name("curve-zap".into())
            .spawn(move || gate.run())
            .map_err(|e| CurveError::Setup(format!("starting the ZAP handler: {e}")))?;
        Ok(Gatekeeper {
            counters,
            stop,
            thread: Some(thread),
        })
    }

    pub fn stats(&self) -> AuthStats {
        let c = &self.counters;
        AuthStats {
            curve_accepted: c.accepted.load(Ordering::Relaxed),
            curve_refused_key: c.refused_key.load(Ordering::Relaxed),
            curve_refused_handshake: c.refused_handshake.load(Ordering::Relaxed),
            curve_reloads: c.reloads.load(Ordering::Relaxed),
            curve_reload_failures: c.reload_failures.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Gatekeeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The gatekeeper's thread state.
struct Gate {
    zap: zmq::Socket,
    monitors: Vec<zmq::Socket>,
    keys: HashSet<Key>,
    allowed: PathBuf,
    hup: Arc<AtomicBool>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    /// When a key refusal and a failed handshake were last logged.
    logged: [Option<Instant>; 2],
}

impl Gate {
    /// Whether the `n`-th refusal (from 0) of `kind` is worth a log line.
    fn worth_logging(&mut self, kind: usize, n: u64) -> bool {
        let due = self.logged[kind].is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if n < LOGGED_AT_ONCE || due {
            self.logged[kind] = Some(Instant::now());
            return true;
        }
        false
    }

    fn run(&mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            if self.hup.swap(false, Ordering::Relaxed) {
                self.reload();
            }
            let mut items: Vec<zmq::PollItem<'_>> = std::iter::once(&self.zap)
                .chain(&self.monitors)
                .map(|s| s.as_poll_item(zmq::POLLIN))
                .collect();
            if zmq::poll(&mut items, 200).is_err() {
                continue;
            }
            let ready: Vec<bool> = items.iter().map(zmq::PollItem::is_readable).collect();
            drop(items);
            if ready[0] {
                self.answer();
            }
            for i in 0..self.monitors.len() {
                if ready[i + 1] {
                    self.handshake_event(i);
                }
            }
        }
    }

    fn reload(&mut self) {
        match read_allowed(&self.allowed) {
            Ok(keys) => {
                tracing::info!(
                    "curve: allow-list {} read again: {} key(s)",
                    self.allowed.display(),
                    keys.len()
                );
                self.keys = keys;
                self.counters.reloads.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!("curve: allow-list not read again, the old one stays: {e}");
                self.counters
                    .reload_failures
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// One ZAP request (RFC 27): version, request id, domain, address, routing id, mechanism, credentials.
    fn answer(&mut self) {
        let Ok(frames) = self.zap.recv_multipart(zmq::DONTWAIT) else {
            return;
        };
        let frame = |i: usize| frames.get(i).map(Vec::as_slice).unwrap_or_default();
        let (request_id, address, mechanism, key) = (frame(1), frame(3), frame(5), frame(6));
        let allowed = mechanism == b"CURVE"
            && <[u8; 32]>::try_from(key).is_ok_and(|k| self.keys.contains(&k));
        let (code, text): (&[u8], &[u8]) = if allowed {
            self.counters.accepted.fetch_add(1, Ordering::Relaxed);
            (b"200", b"OK")
        } else {
            let n = self.counters.refused_key.fetch_add(1, Ordering::Relaxed);
            if self.worth_logging(0, n) {
                let shown = <[u8; 32]>::try_from(key)
                    .map(|k| encode_key(&k))
                    .unwrap_or_else(|_| format!("({})", String::from_utf8_lossy(mechanism)));
                tracing::warn!(
                    "curve: refused {} with key {shown}: not on the allow-list {} ({} refused so far)",
                    String::from_utf8_lossy(address),
                    self.allowed.display(),
                    n + 1
                );
            }
            (b"400", b"key not allowed")
        };
        let reply: [&[u8]; 6] = [b"1.0", request_id, code, text, b"", b""];
        if let Err(e) = self.zap.send_multipart(reply, 0) {
            tracing::error!("curve: ZAP reply: {e}");
        }
    }

    /// A failed handshake reported by a socket's monitor: two frames, the event (16-bit id, 32-bit value)
    /// and the endpoint. libzmq's monitor does not name the peer of a failed handshake, only the endpoint.
    fn handshake_event(&mut self, i: usize) {
        let Ok(frames) = self.monitors[i].recv_multipart(zmq::DONTWAIT) else {
            return;
        };
        let Some(event) = frames.first().filter(|f| f.len() >= 6) else {
            return;
        };
        let id = u32::from(u16::from_ne_bytes([event[0], event[1]]));
        if id == zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_AUTH {
            // the ZAP handler refused it and counted it already
            return;
        }
        let value = u32::from_ne_bytes([event[2], event[3], event[4], event[5]]);
        let n = self
            .counters
            .refused_handshake
            .fetch_add(1, Ordering::Relaxed);
        if self.worth_logging(1, n) {
            let endpoint = frames
                .get(1)
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .unwrap_or_default();
            tracing::warn!(
                "curve: a handshake on {endpoint} failed (a plaintext peer, or a client expecting another \
                 server key; libzmq code {value:#x}; {} so far)",
                n + 1
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_bad_ones_are_named() {
        let (public, secret) = generate().unwrap();
        assert_eq!(public_of(&secret).unwrap(), public);
        assert_eq!(decode_key(&encode_key(&public)).unwrap(), public);
        assert!(decode_key("short").unwrap_err().contains("40 characters"));
        let dir = std::env::temp_dir().join(format!("sekiwake-curve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.pub");
        std::fs::write(
            &f,
            format!("# a comment\n\n{}\nnot-a-key\n", encode_key(&public)),
        )
        .unwrap();
        let e = read_keys(&f).unwrap_err().to_string();
        assert!(e.contains("bad.pub:4:"), "{e}");
        std::fs::write(&f, format!("{}\n", encode_key(&public))).unwrap();
        std::fs::write(dir.join("ignored.txt"), "anything").unwrap();
        assert_eq!(read_allowed(&dir).unwrap(), HashSet::from([public]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
