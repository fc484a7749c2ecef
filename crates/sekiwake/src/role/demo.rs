//! `sekiwake demo`: the whole path on loopback in one process — the built-in sender sends syslog to a port
//! nobody listens on, capture sees it on `lo` and publishes it, forward relays it to a local receiver — with
//! live counters and a summary that says whether anything was lost.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use std::process::ExitCode;

use anyhow::{anyhow, Result};
use bus::subscriber::Report;
use config::{parse_to, Config, Endpoint, FamilyName, Port};
use forward::ForwardReport;
use runtime::Stop;
use udpio::RecvBatch;

use super::capture::{self, CaptureReport};
use super::forward as forward_role;
use super::send::{self, SendOptions, SendReport};
use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short = 'i', long = "interface", default_value = "lo")]
    pub interface: String,
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    #[arg(long, default_value_t = 200)]
    pub size: usize,
    /// Port the sender sends to (nobody listens there; capture sees the traffic).
    #[arg(long, default_value_t = 15514)]
    pub port: u16,
    /// Port of the demo's receiver, where forward delivers.
    #[arg(long, default_value_t = 15515)]
    pub receiver_port: u16,
}

impl RoleConfig for Args {}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    ctx.refuse_config()?;
    let o = DemoOptions {
        interface: args.interface,
        rate: args.rate,
        count: args.count,
        size: args.size,
        port: args.port,
        receiver_port: args.receiver_port,
    };
    match run(&o, &ctx.signal)? {
        true => Ok(ExitCode::SUCCESS),
        false => Ok(ExitCode::from(1)),
    }
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub interface: String,
    pub rate: u64,
    pub count: u64,
    pub size: usize,
    /// Where the sender sends (nobody listens; capture sees it on the wire).
    pub port: u16,
    /// Where forward delivers (the demo's receiver listens).
    pub receiver_port: u16,
}

/// What the receiver saw.
#[derive(Default)]
struct Received {
    total: AtomicU64,
    unique: AtomicU64,
    duplicates: AtomicU64,
}

/// The demo's collector: a socket with a large receive buffer, read in batches.
fn bind_receiver(port: u16) -> Result<UdpSocket> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    let rcvbuf: usize = 32 << 20;
    if nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::RcvBufForce, &rcvbuf).is_err() {
        let _ = s.set_recv_buffer_size(rcvbuf);
    }
    s.bind(&addr.into())
        .map_err(|e| anyhow!("demo receiver on {addr}: {e}"))?;
    Ok(s.into())
}

fn receive(sock: UdpSocket, count: u64, seen: Arc<Received>, stop: Arc<AtomicBool>) {
    let mut marks = vec![0u64; (count as usize).div_ceil(64)];
    let mut batch = RecvBatch::new(64, 2048);
    let _ = sock.set_read_timeout(Some(Duration::from_millis(50)));
    while !stop.load(Ordering::Relaxed) {
        let n = batch.recv(sock.as_fd()).unwrap_or(0);
        if n == 0 {
            let _ = sock.peek(&mut [0u8; 1]);
            continue;
        }
        for i in 0..n {
            let Some((msg, _, _)) = batch.get(i) else {
                continue;
            };
            seen.total.fetch_add(1, Ordering::Relaxed);
            let seq = traffic::syslog::seq_of(msg).filter(|&s| s < count);
            match seq.and_then(|s| {
                marks
                    .get_mut((s / 64) as usize)
                    .map(|w| (w, 1u64 << (s % 64)))
            }) {
                Some((w, bit)) if *w & bit == 0 => {
                    *w |= bit;
                    seen.unique.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    seen.duplicates.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

fn configs(o: &DemoOptions, bus: &str) -> Result<(Config, Config)> {
    let mut cap = Config::default();
    cap.capture.interfaces = vec![o.interface.clone()];
    // The datagrams are small: a snapshot length to fit them gives the kernel ring many more slots on lo.
    cap.capture.snaplen = (o.size as u32 + 128).max(2048);
    let syslog = FamilyName::try_from("syslog".to_owned()).map_err(|e| anyhow!(e))?;
    cap.capture.ports.insert(syslog, vec![Port(o.port)]);
    cap.bus.publish = Endpoint(bus.to_owned());
    cap.stats.log_interval_secs = 3600;
    let mut fwd = Config::default();
    fwd.bus.subscribe = vec![Endpoint(bus.to_owned())];
    fwd.forward.destination =
        vec![
            parse_to(&format!("syslog=udp://127.0.0.1:{}", o.receiver_port))
                .map_err(|e| anyhow!(e))?,
        ];
    fwd.stats.log_interval_secs = 3600;
    Ok((cap, fwd))
}

type Shared<T> = Arc<Mutex<T>>;

fn snapshot<T: Clone>(s: &Shared<T>) -> T {
    s.lock()
        .map(|g| g.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

pub fn run(o: &DemoOptions, signal: &AtomicBool) -> Result<bool> {
    let receiver = bind_receiver(o.receiver_port)?;
    let bus = format!("ipc:///tmp/sekiwake-demo-{}.sock", std::process::id());
    let (cap_cfg, fwd_cfg) = configs(o, &bus)?;
    let halt = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Received::default());
    let cap_report: Shared<CaptureReport> = Arc::default();
    let fwd_report: Shared<Report<ForwardReport>> = Arc::default();

    let rx = {
        let (seen, halt, count) = (seen.clone(), halt.clone(), o.count);
        thread::spawn(move || receive(receiver, count, seen, halt))
    };
    let fwd = {
        let (halt, shared) = (halt.clone(), fwd_report.clone());
        thread::spawn(move || {
            forward_role::run(&fwd_cfg, &Stop::new(&halt, None), Some(shared), None)
        })
    };
    let ready = Arc::new(AtomicBool::new(false));
    let cap = {
        let (halt, shared, ready) = (halt.clone(), cap_report.clone(), ready.clone());
        let opts = capture::RunOptions {
            wait_subscribers: 1,
            ready: Some(ready),
        };
        thread::spawn(move || capture::run(&cap_cfg, &opts, &Stop::new(&halt, None), Some(shared)))
    };
    let ok = wait_ready(&ready, &cap, signal);
    let result = if ok {
        drive(o, signal, &seen, &cap_report, &fwd_report)
    } else {
        Ok(None)
    };
    halt.store(true, Ordering::Relaxed);
    let cap_final = cap
        .join()
        .map_err(|_| anyhow!("capture thread panicked"))??;
    let fwd_final = fwd
        .join()
        .map_err(|_| anyhow!("forward thread panicked"))??;
    let _ = rx.join();
    let _ = std::fs::remove_file(bus.trim_start_matches("ipc://"));
    let Some(sent) = result? else {
        return Ok(false);
    };
    Ok(summary(o, &sent, &cap_final, &fwd_final, &seen))
}

fn wait_ready<T>(ready: &AtomicBool, cap: &thread::JoinHandle<T>, signal: &AtomicBool) -> bool {
    while !ready.load(Ordering::Relaxed) {
        if cap.is_finished() || signal.load(Ordering::Relaxed) {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Sends, prints live counters each second, and waits for the tail to drain.
fn drive(
    o: &DemoOptions,
    signal: &AtomicBool,
    seen: &Received,
    cap: &Shared<CaptureReport>,
    fwd: &Shared<Report<ForwardReport>>,
) -> Result<Option<SendReport>> {
    let opts = SendOptions {
        rate: o.rate,
        count: Some(o.count),
        settings: traffic::Settings {
            size: Some(o.size),
            ..traffic::Settings::default()
        },
        ..SendOptions::new(
            traffic::GenKind::Syslog,
            SocketAddr::from(([127, 0, 0, 1], o.port)),
        )
    };
    println!(
        "demo: sending {} syslog datagrams of {} bytes at {}/s to 127.0.0.1:{}; capture on {} -> bus -> forward -> receiver on 127.0.0.1:{}",
        o.count, o.size, o.rate, o.port, o.interface, o.receiver_port
    );
    let sender = thread::scope(|s| {
        let h = s.spawn(|| send::run(&opts, &Stop::new(signal, None)));
        let start = Instant::now();
        while !h.is_finished() {
            thread::sleep(Duration::from_millis(250));
            if start.elapsed().as_millis() % 1000 < 250 {
                print!("  sending:");
                live_line(start, seen, cap, fwd);
            }
        }
        h.join().map_err(|_| anyhow!("sender panicked"))
    })??;
    let start = Instant::now();
    let mut last = (u64::MAX, Instant::now());
    while seen.total.load(Ordering::Relaxed) < sender.sent && !signal.load(Ordering::Relaxed) {
        let now = seen.total.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(2) {
            break;
        }
        thread::sleep(Duration::from_millis(50));
        if start.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    thread::sleep(Duration::from_millis(300));
    print!("  drained:");
    live_line(start, seen, cap, fwd);
    Ok(Some(sender))
}

fn live_line(
    start: Instant,
    seen: &Received,
    cap: &Shared<CaptureReport>,
    fwd: &Shared<Report<ForwardReport>>,
) {
    let c = snapshot(cap);
    let f = snapshot(fwd);
    let forwarded: u64 = f.counters.destinations.iter().map(|d| d.forwarded).sum();
    println!(
        " t={:>4.1}s captured={:<9} published={:<9} forwarded={:<9} received={}",
        start.elapsed().as_secs_f64(),
        c.captured_total,
        c.published,
        forwarded,
        seen.total.load(Ordering::Relaxed)
    );
}

fn summary(
    o: &DemoOptions,
    sent: &SendReport,
    c: &CaptureReport,
    f: &Report<ForwardReport>,
    seen: &Received,
) -> bool {
    let d = f.counters.destinations.first().cloned().unwrap_or_default();
    let unique = seen.unique.load(Ordering::Relaxed);
    let dups = seen.duplicates.load(Ordering::Relaxed);
    println!("demo summary ({:.0} datagrams/s offered):", sent.rate);
    println!("  sent       {:>9}", sent.sent);
    println!(
        "  captured   {:>9}   (kernel/pcap dropped {}, truncated {}, mismatched {})",
        c.captured_total,
        c.pcap_dropped + c.pcap_if_dropped,
        c.truncated,
        c.mismatched
    );
    println!(
        "  published  {:>9}   (dropped at the high-water mark {})",
        c.published, c.hwm_dropped
    );
    println!(
        "  forwarded  {:>9}   (refused {}, socket buffer full {}, failed {}, bus gaps {})",
        d.forwarded, d.refused, d.dropped_full, d.failed, f.bus.bus_gaps
    );
    println!("  received   {:>9}   unique, {} duplicates", unique, dups);
    let lossless = sent.sent == o.count && unique == sent.sent && dups == 0;
    if lossless {
        println!("  result: no loss: every datagram sent was received exactly once");
    } else {
        let lost = sent.sent.saturating_sub(unique);
        println!("  result: LOSS: {lost} of {} datagrams did not arrive ({dups} duplicates); see the counters above for where", sent.sent);
    }
    lossless
}
