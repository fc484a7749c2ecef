"""`sekiwake decode` against tshark on IPFIX and NetFlow v9 fixtures that use elements from all over the IANA
registry (crates/wire/tests/data/ipfix, README.md there): names, and values by abstract data type (text, MAC,
reduced-size counters, booleans, signed, floats, RFC 3339 times of every precision), and v9 options scope
fields named by their scope type."""

import struct
from datetime import datetime, timezone
from pathlib import Path

from decode_oracle import decode, dicts_with, tshark_json
from helpers.gating import require_programs, require_sekiwake

FIXTURES = Path(__file__).resolve().parents[2] / "crates" / "wire" / "tests" / "data" / "ipfix"
IPFIX_PORT, V9_PORT = 4739, 2055


def udp_pcap(path, payload, dport):
    """A one-frame pcap: Ethernet / IPv4 192.0.2.1 -> 192.0.2.2 / UDP 50000 -> dport / payload."""
    udp = struct.pack(">HHHH", 50000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes([192, 0, 2, 1]),
                     bytes([192, 0, 2, 2]))
    s = sum(struct.unpack(">10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack(">H", ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF) + ip[12:]
    frame = bytes.fromhex("020000000002" "020000000001" "0800") + ip + udp
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", 1796631302, 0, len(frame), len(frame))
    path.write_bytes(header + record + frame)
    return path


def ns_of_rfc3339(text):
    """Nanoseconds since 1970 of our `2026-12-07T08:15:02.250123Z` (0, 3, 6 or 9 fraction digits)."""
    assert text.endswith("Z"), text
    whole, _, frac = text[:-1].partition(".")
    secs = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return int(secs) * 10**9 + int(frac.ljust(9, "0") or 0)


def ns_of_tshark(text):
    """Nanoseconds since 1970 of tshark's `Dec  7, 2026 08:14:52.250122999 UTC`."""
    whole, frac = text.removesuffix(" UTC").rsplit(".", 1)
    secs = datetime.strptime(" ".join(whole.split()), "%b %d, %Y %H:%M:%S").replace(tzinfo=timezone.utc)
    return int(secs.timestamp()) * 10**9 + int(frac)


def decoded(tmp_path, name, port):
    pcap = udp_pcap(tmp_path / f"{name}.pcap", (FIXTURES / f"{name}.bin").read_bytes(), port)
    records, summary = decode(pcap, {"netflow": port}, "--templates")
    assert summary["records"]["malformed"] == 0
    [layers] = tshark_json(pcap, [f"udp.port=={port},cflow"], "--no-duplicate-keys")
    return records, layers["cflow"]


def only(records, record, **match):
    found = [r for r in records if r["record"] == record and all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (record, match, records)
    return found[0]


# our element name -> (tshark field, how tshark's text reads as our JSON value)
SAME_FIELDS = {
    "VRFname": ("cflow.vrfname", str),
    "wlanSSID": ("cflow.wlan_ssid", str),
    "staMacAddress": ("cflow.sta_mac_address", str),
    "dot1qCustomerVlanId": ("cflow.dot1q_customer_vlan_id", int),
    "ingressPhysicalInterface": ("cflow.ingress_physical_interface", int),
    "egressPhysicalInterface": ("cflow.egress_physical_interface", int),
    "initiatorOctets": ("cflow.initiator_octets", int),
    "responderOctets": ("cflow.responder_octets", int),
    "natEvent": ("cflow.nat_event", int),
    "octetDeltaSumOfSquares": ("cflow.delta_octets_squared", int),
    "dataRecordsReliability": ("cflow.data_records_reliability", lambda t: {"1": True, "0": False}[t]),
    "mibObjectValueInteger": ("cflow.mib_object_value_integer", int),
    "absoluteError": ("cflow.absolute_error", float),
}


def test_ipfix_elements_of_the_whole_registry_match_tshark(tmp_path):
    require_programs("tshark")
    require_sekiwake()
    records, cflow = decoded(tmp_path, "registry-elements", IPFIX_PORT)
    flow = only(records, "flow")
    fields = flow["fields"]
    [theirs] = dicts_with(cflow, "cflow.vrfname")
    for ours, (key, read) in SAME_FIELDS.items():
        assert fields[ours] == read(theirs[key]), ours
    assert not [k for k in fields if k.startswith("ie")], "every element is named"

    # an octetArray stays hex; tshark splits the MPLS label stack entry, which must be the same bytes
    entry = int(fields["mplsLabelStackSection2"], 16)
    [mpls] = dicts_with(theirs, "cflow.mpls_label")
    assert (entry >> 4, entry >> 1 & 7, entry & 1) == (
        int(mpls["cflow.mpls_label"]), int(mpls["cflow.mpls_exp"]), int(mpls["cflow.mpls_bos"]))

    # times: seconds and milliseconds exactly; tshark truncates NTP fractions where we round to the unit,
    # so micro- and nanoseconds may differ by less than one unit
    assert ns_of_rfc3339(fields["observationTimeSeconds"]) == ns_of_tshark(theirs["cflow.observation_time_seconds"])
    assert ns_of_rfc3339(fields["flowStartSeconds"]) == ns_of_tshark(theirs["cflow.abstimestart"])
    millis, micros, nanos = theirs["cflow.timedelta_tree"]
    for start, end, tree, unit_ns in [("flowStartMilliseconds", "flowEndMilliseconds", millis, 0),
                                      ("flowStartMicroseconds", "flowEndMicroseconds", micros, 1000),
                                      ("flowStartNanoseconds", "flowEndNanoseconds", nanos, 1)]:
        for ours, key in [(start, "cflow.abstimestart"), (end, "cflow.abstimeend")]:
            diff = ns_of_rfc3339(fields[ours]) - ns_of_tshark(tree[key])
            assert 0 <= diff <= unit_ns, (ours, fields[ours], tree[key])
    assert fields["flowStartMicroseconds"] == "2026-12-07T08:14:52.250123Z"
    assert fields["flowEndNanoseconds"] == "2026-12-07T08:15:01.750456789Z"

    # IOS-XR style selector options
    options = only(records, "options")
    [sel] = dicts_with(cflow, "cflow.selector_name")
    assert options["scope"] == {"selectorId": int(sel["cflow.selector_id"])}
    assert options["fields"] == {"samplingSize": int(sel["cflow.sampling_size"]),
                                 "samplingPopulation": int(sel["cflow.sampling_population"]),
                                 "selectorName": sel["cflow.selector_name"]}


def test_v9_scope_types_are_named_and_elements_match_tshark(tmp_path):
    require_programs("tshark")
    require_sekiwake()
    records, cflow = decoded(tmp_path, "v9-registry-elements", V9_PORT)
    template = only(records, "template", options=True)
    # tshark names the scope field by its type ("Field (1/1) [Scope]: System"), as we do
    scope_labels = [k.split("[Scope]: ", 1)[1] for d in dicts_with(cflow, "cflow.option_scope_length")
                    for k in d if "[Scope]: " in k]
    assert scope_labels == ["System"]
    assert [f["name"] for f in template["fields"]] == ["scopeSystem", "ingressVRFID", "VRFname"]

    options = only(records, "options")
    [vrf] = dicts_with(cflow, "cflow.scope_system")
    assert options["scope"] == {"scopeSystem": int(vrf["cflow.scope_system"].replace(":", ""), 16)}
    assert options["fields"] == {"ingressVRFID": int(vrf["cflow.ingress_vrfid"]), "VRFname": vrf["cflow.vrfname"]}

    flow = only(records, "flow")
    [theirs] = dicts_with(cflow, "cflow.sta_mac_address")
    assert flow["fields"]["staMacAddress"] == theirs["cflow.sta_mac_address"]
    assert flow["fields"]["staIPv4Address"] == theirs["cflow.sta_ipv4_address"]
    assert flow["fields"]["wlanSSID"] == theirs["cflow.wlan_ssid"]
    assert flow["fields"]["ingressPhysicalInterface"] == int(theirs["cflow.ingress_physical_interface"])
    assert flow["fields"]["flowDirection"] == int(theirs["cflow.direction"])
    assert (flow["src_addr"], flow["dst_addr"], flow["bytes"]) == (
        theirs["cflow.srcaddr"], theirs["cflow.dstaddr"], int(theirs["cflow.octets"]))
