//! Real peers for the stream sink tests: rsyslogd (imtcp, optionally with the gtls driver) writing every raw
//! message into a file, and test certificates made with openssl. Everything runs on 127.0.0.1 in a private
//! temporary directory; every process is started here, killed by its PID and reaped, also when a test fails.
#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// True when every tool is there. Otherwise: with CI=true the test fails, else it is skipped with a note.
pub fn have(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !available(t)).collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the test needs {missing:?} (apt-get install rsyslog rsyslog-gnutls openssl)");
    }
    eprintln!("SKIPPED: {missing:?} not found (apt-get install rsyslog rsyslog-gnutls openssl)");
    false
}

fn available(tool: &str) -> bool {
    match tool {
        "rsyslog-gnutls" => rsyslog_module("lmnsd_gtls.so"),
        _ => Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
    }
}

fn rsyslog_module(file: &str) -> bool {
    let dirs = [
        "/usr/lib/x86_64-linux-gnu/rsyslog",
        "/usr/lib/aarch64-linux-gnu/rsyslog",
        "/usr/lib/rsyslog",
        "/usr/lib64/rsyslog",
    ];
    dirs.iter().any(|d| Path::new(d).join(file).exists())
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sekiwake-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Test PKI in `dir`: CAs `ca` and `other`; `server` (localhost, 127.0.0.1) and `client` signed by `ca`;
/// `rogue` (same names) signed by `other`. Files NAME.pem and NAME.key.
pub fn make_pki(dir: &TempDir) {
    let script = r#"set -e
ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.pem -days 2 -subj /CN=$1; }
leaf() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.csr -subj /CN=localhost
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\n' $3 > $1.ext
  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -out $1.pem -days 2 -extfile $1.ext
}
ca ca; ca other; leaf server ca serverAuth; leaf client ca clientAuth; leaf rogue other serverAuth
"#;
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How rsyslog's listener speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Tcp,
    /// gtls with the certificate `cert` (NAME of make_pki); `mutual` requires a client certificate from `ca`.
    Tls {
        cert: &'static str,
        mutual: bool,
    },
}

/// rsyslogd -n with a private config; its raw messages go to DIR/raw.log as `<<RAW>>\n` records, in arrival
/// order (one main queue worker: with more, rsyslog writes whole batches out of order under load).
pub struct Rsyslog {
    dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Rsyslog {
    pub fn new(dir: &TempDir, port: u16, listener: Listener) -> Self {
        let conf = config(&dir.0, port, listener);
        fs::write(dir.path("rsyslog.conf"), conf).unwrap();
        Self {
            dir: dir.0.clone(),
            port,
            child: None,
        }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none());
        let d = &self.dir;
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(fs::File::create(d.join("rsyslogd.err")).unwrap())
            .spawn()
            .expect("spawn rsyslogd");
        self.child = Some(child);
        self.wait_listening();
    }

    fn wait_listening(&mut self) {
        let until = Instant::now() + Duration::from_secs(10);
        while !listening(self.port) {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("rsyslogd exited ({st}): {}", self.stderr());
            }
            assert!(
                Instant::now() < until,
                "rsyslogd did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM by PID and reap (SIGKILL after 5 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() > until {
                let _ = kill(pid, Signal::SIGKILL);
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The raw messages rsyslog wrote so far, in file order.
    pub fn records(&self) -> Vec<Vec<u8>> {
        parse_records(&fs::read(self.dir.join("raw.log")).unwrap_or_default())
    }

    /// Waits until at least `n` records are there (or the timeout passes) and returns them.
    pub fn wait_records(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let until = Instant::now() + timeout;
        loop {
            let got = self.records();
            if got.len() >= n || Instant::now() > until {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What rsyslogd wrote to its standard error (for failure messages).
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("rsyslogd.err")).unwrap_or_default()
    }

    pub fn log_size(&self) -> u64 {
        fs::metadata(self.dir.join("raw.log"))
            .map(|m| m.len())
            .unwrap_or(0)
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(dir: &Path, port: u16, listener: Listener) -> String {
    let d = dir.display();
    let (tls_global, tls_module) = match listener {
        Listener::Tcp => (String::new(), String::new()),
        Listener::Tls { cert, mutual } => (
            format!(
                "DefaultNetstreamDriverCAFile=\"{d}/ca.pem\" DefaultNetstreamDriverCertFile=\"{d}/{cert}.pem\" \
                 DefaultNetstreamDriverKeyFile=\"{d}/{cert}.key\""
            ),
            format!(
                "StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"{}\"",
                if mutual { "x509/certvalid" } else { "anon" }
            ),
        ),
    };
    format!(
        r#"global(workDirectory="{d}" parser.escapeControlCharactersOnReceive="off"
  parser.dropTrailingLFOnReception="off" maxMessageSize="64k" {tls_global})
main_queue(queue.workerThreads="1")
module(load="imtcp" {tls_module})
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="remote")
template(name="raw" type="string" string="<<%rawmsg%>>\n")
ruleset(name="remote"){{ action(type="omfile" file="{d}/raw.log" template="raw") }}
"#
    )
}

/// Whether something listens on 127.0.0.1:port (from /proc/net/tcp; no probe connection).
fn listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1] == want && f[3] == "0A"
    })
}

fn parse_records(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(rest) = data.strip_prefix(b"<<") {
        let Some(end) = rest.windows(3).position(|w| w == b">>\n") else {
            break;
        };
        out.push(rest[..end].to_vec());
        data = &rest[end + 3..];
    }
    out
}

/// Message `i` of a test run: a syslog line with a sequence number, sometimes with LF inside.
pub fn message(i: usize, lf_inside: bool) -> Vec<u8> {
    let body = if lf_inside && i % 7 == 3 {
        "line one\nline two\ttab"
    } else {
        "plain body"
    };
    format!("<134>1 2024-05-01T10:00:00Z host app - - - seq={i:06} {body} é").into_bytes()
}

/// The sequence number of a message made by `message`.
pub fn seq_of(raw: &[u8]) -> usize {
    let s = String::from_utf8_lossy(raw);
    let at = s.find("seq=").expect("seq= in record") + 4;
    s[at..at + 6].parse().unwrap()
}

/// Waits until `f` holds or the timeout passes; returns whether it held.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    while !f() {
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}
