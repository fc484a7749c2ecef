"""Detection scenarios through the real path: background traffic of every kind from many exporters
(`sekiwake send`) -> capture (UDP listeners) -> bus -> `sekiwake detect` -> a webhook receiver, then one
injected event after another, each with its ground truth: the alert it must raise, when it began, and which
addresses it involves. Used by the e2e suite (short background) and by bench/detect_scenarios.py (long).

An alert start is explained by an event when it comes within the event's window and names one of the
event's addresses (its exporter, incident device or key); every other start is a false alarm."""

import subprocess
import time
from dataclasses import dataclass, field

from helpers.detect import WebhookReceiver, listening_capture
from helpers.env import SEKIWAKE_BIN

KINDS = ("syslog", "snmptrap", "netflow", "ipfix", "sflow")

# (generator kind, capture kind, exporters, first source address, datagrams/s over all of them, extra flags)
BACKGROUND = [
    ("syslog", "syslog", 5, "127.0.10.1", 50, ["--format", "rfc3164"]),
    ("syslog", "syslog", 3, "127.0.16.1", 20, ["--format", "rfc5424"]),
    ("snmptrap-v2c", "snmptrap", 5, "127.0.11.1", 2, []),
    ("netflow-v9", "netflow", 3, "127.0.12.1", 30, []),
    ("ipfix", "ipfix", 3, "127.0.13.1", 30, []),
    ("sflow", "sflow", 3, "127.0.14.1", 30, []),
]
# A steady exporter that goes silent at the `silence` event.
STEADY = ("syslog", "syslog", "127.0.15.1", 10)


@dataclass
class Event:
    name: str
    send: list  # generator kind and flags (without --to)
    kind: str  # capture kind it goes to
    want_type: str
    want_key: str
    addresses: tuple
    seconds: float = 4.0
    onset: float = 0.0  # monotonic time the event began
    caught: dict = field(default=None)
    delay: float = None


def events():
    return [
        Event("port scan (IPFIX)", ["ipfix", "--pattern", "port-scan", "--source", "127.0.20.1", "--rate", "20"],
              "ipfix", "scan", "src/198.51.100.66/ports", ("127.0.20.1", "198.51.100.66")),
        Event("host scan (NetFlow v9)", ["netflow-v9", "--pattern", "host-scan", "--attacker", "198.51.100.67",
                                         "--source", "127.0.20.2", "--rate", "20"],
              "netflow", "scan", "src/198.51.100.67/hosts", ("127.0.20.2", "198.51.100.67")),
        Event("UDP flood (NetFlow v9)", ["netflow-v9", "--pattern", "udp-flood", "--target", "10.0.0.81",
                                         "--source", "127.0.20.3", "--rate", "20"],
              "netflow", "flood", "dst/10.0.0.81/", ("127.0.20.3", "10.0.0.81")),
        Event("SYN flood (IPFIX)", ["ipfix", "--pattern", "syn-flood", "--target", "10.0.0.82",
                                    "--source", "127.0.20.4", "--rate", "50"],
              "ipfix", "flood", "dst/10.0.0.82/syn_pps", ("127.0.20.4", "10.0.0.82")),
        Event("UDP flood (sFlow)", ["sflow", "--pattern", "udp-flood", "--target", "10.0.0.83",
                                    "--source", "127.0.20.5", "--rate", "20"],
              "sflow", "flood", "dst/10.0.0.83/", ("127.0.20.5", "10.0.0.83")),
        Event("SYN flood (sFlow)", ["sflow", "--pattern", "syn-flood", "--target", "10.0.0.84",
                                    "--source", "127.0.20.6", "--rate", "50"],
              "sflow", "flood", "dst/10.0.0.84/syn_pps", ("127.0.20.6", "10.0.0.84")),
        Event("link flap (syslog)", ["syslog", "--pattern", "link-flap", "--source", "127.0.21.1", "--rate", "2"],
              "syslog", "flap", "if/GigabitEthernet0/1", ("127.0.21.1",), seconds=6),
        Event("link flap (traps)", ["snmptrap-v2c", "--pattern", "link-flap", "--source", "127.0.22.1",
                                    "--rate", "2"],
              "snmptrap", "flap", "if/1", ("127.0.22.1",), seconds=6),
        Event("never-seen log template", ["syslog", "--message",
                                          "%PLATFORM-2-CARD_REMOVED: line card removed unexpectedly seq={seq}",
                                          "--source", "127.0.10.2", "--rate", "2"],
              "syslog", "new_template", "template/", ("127.0.10.2",), seconds=3),
        Event("trap storm", ["snmptrap-v2c", "--source", "127.0.11.3", "--rate", "200"],
              "snmptrap", "storm", "traps", ("127.0.11.3",), seconds=3),
        Event("syslog surge (rate)", ["syslog", "--source", "127.0.16.2", "--rate", "300", "--format", "rfc5424"],
              "syslog", "rate", "datagrams/syslog", ("127.0.16.2",), seconds=3),
        Event("exporter silent", [], "syslog", "silence", "datagrams/syslog", (STEADY[2],), seconds=0),
    ]


class Sender:
    """A `sekiwake send` running for a while, stopped by its PID."""

    log = None  # where every sender's stderr goes (set by run)

    def __init__(self, argv, to_port, seconds):
        full = [SEKIWAKE_BIN, "send", *[str(a) for a in argv], "--to", f"127.0.0.1:{to_port}",
                "--duration", str(seconds)]
        with open(Sender.log, "ab") as err:
            self.proc = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=err)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def explains(event, alert, at):
    """The alert arrived within the event's window and names one of its addresses."""
    if not event.onset or at < event.onset or at > event.onset + event.seconds + 15:
        return False
    text = " ".join(str(x) for x in (alert.get("exporter"), alert.get("key"), alert["incident"].get("device")))
    return any(a in text for a in event.addresses)


@dataclass
class Outcome:
    events: list
    false_alarms: list
    # Seconds observed after the warm-up (background all along, events on top).
    background_seconds: float
    detect_stats: dict


def run(sekiwake, workdir, warmup=20, background=0.0, gap=6.0, only=None):
    """Runs the scenarios; `background` seconds of background only before the events (after the warm-up),
    `gap` seconds between events. Returns an Outcome."""
    Sender.log = workdir / "senders.log"
    cap, ports = listening_capture(sekiwake, KINDS)
    hook = WebhookReceiver().start()
    config = workdir / "detect.toml"
    config.write_text("[detect.flap.pacing]\nhold_down = 3\n")
    det = sekiwake.detect(cap.publish, alerts=("stdout", f"webhook:{hook.url}"),
                          warmup=warmup, config=config)
    todo = [e for e in events() if only is None or e.want_type in only]
    total = warmup + background + 5 + gap * len(todo) + 15
    senders = [Sender([g, "--exporters", n, "--source", src, "--rate", rate, *extra], ports[k], total)
               for g, k, n, src, rate, extra in BACKGROUND]
    steady = Sender([STEADY[0], "--source", STEADY[2], "--rate", STEADY[3]], ports[STEADY[1]], total)
    started = time.monotonic()
    try:
        time.sleep(warmup + 5 + background)
        for e in todo:
            e.onset = time.monotonic()
            if e.want_type == "silence":
                steady.stop()
            else:
                Sender(e.send, ports[e.kind], e.seconds).proc.wait(e.seconds + 30)
            time.sleep(max(0.0, e.onset + gap - time.monotonic()))
        time.sleep(5)
    finally:
        for s in senders + [steady]:
            s.stop()
    observed = time.monotonic() - started - warmup
    det_rc, stats = det.terminate()
    hook.stop()
    starts = [(at, a) for at, a in hook.timed() if a.get("state") == "start"]
    false_alarms = []
    for at, a in starts:
        matched = [e for e in todo if explains(e, a, at)]
        if not matched:
            false_alarms.append(a)
        for e in matched:
            if e.caught is None and a["type"] == e.want_type and e.want_key in a["key"]:
                e.caught, e.delay = a, at - e.onset
    return Outcome(todo, false_alarms, observed, stats)


def table(outcome):
    """The outcome as a markdown table."""
    hours = max(outcome.background_seconds, 1) / 3600
    lines = ["| scenario | caught | delay from onset (s) | alert |", "|---|---|---|---|"]
    for e in outcome.events:
        alert = f"{e.caught['type']} {e.caught['key']}" if e.caught else "-"
        delay = f"{e.delay:.2f}" if e.delay is not None else "-"
        lines.append(f"| {e.name} | {'yes' if e.caught else 'NO'} | {delay} | {alert} |")
    lines.append(f"\nfalse alarms: {len(outcome.false_alarms)} in {outcome.background_seconds:.0f} s of "
                 f"background after the warm-up ({len(outcome.false_alarms) / hours:.1f} per hour)")
    return "\n".join(lines)
