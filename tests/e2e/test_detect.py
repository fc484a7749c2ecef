"""`sekiwake detect` through the real path (send -> capture -> bus -> detect) and its alerts in real peers:
stdout, a file, a webhook receiver, Prometheus Alertmanager (read back through its API), rsyslog, and a bus
subscriber (`sekiwake tap`); a sink that is down; undecodable datagrams; and every detector in the scenario
run with its ground truth."""

import json
import subprocess
import time

import detect_scenarios
from helpers.detect import Alertmanager, WebhookReceiver, listening_capture
from helpers.env import SEKIWAKE_BIN
from helpers.gating import require_programs
from helpers.net import free_port, send_udp
from helpers.proc import wait_until

FLAP_KEY = "if/GigabitEthernet0/1"
# Alerts end 3 s after the flapping stops, so that end events come within the test.
PACING = "[detect.flap.pacing]\nhold_down = 3\n[detect.new_template.pacing]\nhold_down = 3\n"


def config(tmp_path, extra=""):
    c = tmp_path / "detect.toml"
    c.write_text(PACING + extra)
    return c


def background_syslog(port, seconds, rate=20, source="127.0.40.1"):
    """Steady syslog from one exporter while the detector learns (runs in the background)."""
    return subprocess.Popen([SEKIWAKE_BIN, "send", "syslog", "--to", f"127.0.0.1:{port}", "--source", source,
                             "--rate", str(rate), "--duration", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def flap(sekiwake, port, source="127.0.40.1", seconds=4):
    """A link flapping in syslog: %LINK-3-UPDOWN down/up twice a second."""
    r = sekiwake.send("syslog", "--pattern", "link-flap", "--to", f"127.0.0.1:{port}", "--source", source,
                      "--rate", 2, "--duration", seconds)
    assert r.returncode == 0, r.stderr


def flap_alerts(alerts):
    return [a for a in alerts if a["type"] == "flap" and a["key"] == FLAP_KEY]


def warm_then_flap(sekiwake, port, warmup=4):
    bg = background_syslog(port, warmup + 12)
    try:
        time.sleep(warmup + 1)
        flap(sekiwake, port)
        time.sleep(5)  # the hold-down ends the episode
    finally:
        bg.terminate()
        bg.wait(10)


def test_alerts_reach_stdout_a_file_the_bus_and_a_webhook(sekiwake, tmp_path):
    cap, ports = listening_capture(sekiwake, ["syslog"])
    hook = WebhookReceiver().start()
    alert_bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    alert_file = tmp_path / "alerts.jsonl"
    det = sekiwake.detect(cap.publish, alerts=("stdout", f"file:{alert_file}", f"bus:{alert_bus}",
                                               f"webhook:{hook.url}"), warmup=4, config=config(tmp_path))
    tap = sekiwake.tap(alert_bus)
    try:
        warm_then_flap(sekiwake, ports["syslog"])
        hook.wait(lambda b: len([a for a in flap_alerts(b) if a["state"] == "end"]) == 1)
    finally:
        hook.stop()
    rc, stats = det.terminate()
    assert rc == 0, det.output()
    out = flap_alerts(det.json_lines())
    assert [a["state"] for a in out] == ["start", "end"], out
    start = out[0]
    assert start["exporter"] == "127.0.40.1" and start["kind"] == "syslog"
    assert start["id"] == out[1]["id"] and out[1]["ended"] >= start["started"]
    assert start["value"] >= 5 and start["severity"] == "warning"
    assert "changed state" in start["summary"]
    assert start["incident"]["device"] == "127.0.40.1"
    # the same events, in the same order, everywhere
    ids = [(a["id"], a["state"]) for a in det.json_lines()]
    assert [(a["id"], a["state"]) for a in map(json.loads, alert_file.read_text().splitlines())] == ids
    assert [(a["id"], a["state"]) for a in hook.bodies()] == ids
    wait_until(lambda: len([l for l in tap.json_lines() if "alert" in l]) >= len(ids), 5)
    tapped = [l for l in tap.json_lines() if "alert" in l]
    assert [(l["alert"]["id"], l["alert"]["state"]) for l in tapped] == ids
    assert tapped[0]["topic"].startswith("alert/")
    assert any(l["topic"] == "alert/flap/127.0.40.1/" for l in tapped)
    for s in stats["sinks"]:
        assert s["offered"] == s["sent"] == len(ids), s
    assert stats["detector"]["alerts"]["started"] == stats["detector"]["alerts"]["ended"], "every episode ended"
    assert stats["bad_envelope"] == 0 and stats["unknown_kind"] == 0


def test_alertmanager_fires_and_resolves(sekiwake, tmp_path):
    require_programs("/usr/bin/prometheus-alertmanager")
    notified = WebhookReceiver().start()
    am = Alertmanager(tmp_path / "am", notified.url).start()
    cap, ports = listening_capture(sekiwake, ["syslog"])
    det = sekiwake.detect(cap.publish, alerts=("stdout", f"alertmanager:{am.url}"), warmup=4,
                          config=config(tmp_path))
    try:
        bg = background_syslog(ports["syslog"], 30)
        time.sleep(5)
        flap(sekiwake, ports["syslog"])

        def firing():
            return [a for a in am.alerts(active=True) if a["labels"].get("alertname") == "sekiwake_flap"]
        assert wait_until(lambda: firing(), 10), am.alerts()
        a = firing()[0]
        assert a["labels"]["exporter"] == "127.0.40.1" and a["labels"]["key"] == FLAP_KEY
        assert a["labels"]["severity"] == "warning" and a["labels"]["type"] == "flap"
        assert "changed state" in a["annotations"]["summary"]
        assert a["status"]["state"] == "active"
        # Alertmanager's own webhook notification says firing, then resolved once detect ends the episode
        statuses = lambda: [(b["status"], b["alerts"][0]["labels"]["alertname"]) for b in notified.bodies()]
        assert wait_until(lambda: ("firing", "sekiwake_flap") in statuses(), 15), notified.bodies()
        assert wait_until(lambda: ("resolved", "sekiwake_flap") in statuses(), 20), notified.bodies()
        assert not firing()
        bg.terminate()
        bg.wait(10)
    finally:
        notified.stop()
        rc, stats = det.terminate()
        am.stop()
    am_sink = [s for s in stats["sinks"] if s["target"].startswith("alertmanager:")][0]
    assert am_sink["sent"] == am_sink["offered"] >= 2 and am_sink["rejected"] == 0, am_sink


def test_syslog_sink_reaches_rsyslog(sekiwake, rsyslog, tmp_path):
    cap, ports = listening_capture(sekiwake, ["syslog"])
    det = sekiwake.detect(cap.publish, alerts=(f"syslog:udp://127.0.0.1:{rsyslog.port}",), warmup=4,
                          config=config(tmp_path))
    warm_then_flap(sekiwake, ports["syslog"])
    rc, stats = det.terminate()
    lines = [m for _, m in rsyslog.wait_lines(2)]
    flaps = [m for m in lines if " sekiwake - flap - " in m]
    assert len(flaps) == 2, lines
    # RFC 5424: local0.warning, version 1, the alert's JSON as MSG
    assert flaps[0].startswith("<132>1 ")
    alert = json.loads(flaps[0].split(" sekiwake - flap - ", 1)[1])
    assert alert["key"] == FLAP_KEY and alert["state"] == "start"
    assert json.loads(flaps[1].split(" - flap - ", 1)[1])["state"] == "end"
    sink = stats["sinks"][0]
    assert sink["sent"] == sink["offered"] == len([m for m in lines if " sekiwake - " in m])


def test_a_sink_that_is_down_keeps_its_queue_and_counts_the_rest(sekiwake, tmp_path):
    """A webhook nobody answers yet, with a queue of 2: the first event is retried, two wait, the rest are
    dropped and counted; once the receiver is up, everything queued arrives."""
    cap, ports = listening_capture(sekiwake, ["syslog"])
    port = free_port("tcp")
    det = sekiwake.detect(cap.publish, alerts=("stdout", f"webhook:http://127.0.0.1:{port}/hook"), warmup=4,
                          config=config(tmp_path, "[detect]\nalert_queue = 2\n[detect.silence]\nenabled = false\n"))
    warm_then_flap(sekiwake, ports["syslog"])
    for text in ("fan tray 2 removed", "power supply 1 failed", "temperature sensor 3 over limit"):
        r = sekiwake.send("syslog", "--message", f"%ENV-1-ALARM: {text}", "--to", f"127.0.0.1:{ports['syslog']}",
                          "--source", "127.0.40.1", "--count", 1)
        assert r.returncode == 0
    def all_ended(s):
        a = s["detector"]["alerts"]
        return a["started"] >= 5 and a["started"] == a["ended"]
    a = det.wait_stats(all_ended, 15)["detector"]["alerts"]
    events = a["started"] + a["updated"] + a["ended"]
    s = det.wait_stats(lambda s: s["sinks"][1]["offered"] == events, 5)["sinks"][1]
    assert s["dropped_full"] == events - 3 > 0 and s["sent"] == 0 and s["retries"] > 0, s
    receiver = WebhookReceiver(port=port).start()
    try:
        receiver.wait(lambda b: len(b) >= 3, 15)
        time.sleep(1)  # nothing more may come
        rc, stats = det.terminate()
    finally:
        receiver.stop()
    s = stats["sinks"][1]
    assert s["sent"] == 3 == len(receiver.bodies()), (s, receiver.bodies())
    assert s["offered"] == s["sent"] + s["dropped_full"] + s["rejected"] + s["unsent_at_exit"] + s["queued"]
    # the first three events, in order (they came seconds apart: stdout, with the same small queue, has them)
    assert [(b["id"], b["state"]) for b in receiver.bodies()] == [(a["id"], a["state"])
                                                                    for a in det.json_lines()[:3]]
    out = stats["sinks"][0]
    assert out["offered"] == events == out["sent"] + out["dropped_full"], out


def test_undecodable_datagrams_are_counted_and_detection_goes_on(sekiwake, tmp_path):
    cap, ports = listening_capture(sekiwake, ["syslog", "ipfix", "snmptrap"])
    det = sekiwake.detect(cap.publish, warmup=4, config=config(tmp_path))
    garbage = [b"\x00\x0a" + bytes([i]) * 30 for i in range(20)] + [b"\x30\x03\x02\x01"] * 5
    send_udp(garbage[:20], "127.0.0.1", ports["ipfix"])
    send_udp(garbage[20:], "127.0.0.1", ports["snmptrap"])
    warm_then_flap(sekiwake, ports["syslog"])
    rc, stats = det.terminate()
    assert rc == 0
    assert stats["records"]["malformed"] == 25, stats["records"]
    assert stats["records"]["mismatched"] == 25
    assert [a["state"] for a in flap_alerts(det.json_lines())] == ["start", "end"]


def test_a_bad_detect_section_is_refused_with_file_line_and_key(sekiwake, tmp_path):
    c = tmp_path / "bad.toml"
    c.write_text("[detect]\nwarmup = 10\n\n[[detect.ceiling]]\nname = \"dc\"\nnetworks = [\"10.0.0.0/33\"]\n")
    r = sekiwake.run("detect", "-c", c, "--duration", "1")
    assert r.returncode != 0
    assert f"{c}:6: key `detect.ceiling[0].networks`" in r.stderr, r.stderr
    c.write_text("[detect]\nalerts = [\"pager:x\"]\n")
    r = sekiwake.run("check-config", c)
    assert r.returncode != 0 and f"{c}:2: key `detect.alerts[0]`" in r.stderr, r.stderr
    c.write_text("[detect.flood]\nmin_pps = \"many\"\n")
    r = sekiwake.run("check-config", c)
    assert r.returncode != 0 and "detect.flood.min_pps" in r.stderr, r.stderr


def test_every_detector_through_the_real_path(sekiwake, tmp_path):
    """Background of every kind from many exporters, then one of each event: each must be caught, and
    nothing else may alert."""
    outcome = detect_scenarios.run(sekiwake, tmp_path, warmup=20, gap=6)
    table = detect_scenarios.table(outcome)
    missed = [e.name for e in outcome.events if not e.caught]
    assert not missed, table
    assert not outcome.false_alarms, (table, outcome.false_alarms)
    s = outcome.detect_stats
    assert s["bad_envelope"] == 0 and s["records"]["malformed"] == 0
    print(table)
