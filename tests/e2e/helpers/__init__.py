"""Helpers of the end-to-end tests: real peers (rsyslog, snmptrapd, nfcapd/nfdump, sfacctd, softflowd, pmacctd,
logger, snmptrap, tcpdump/tshark), network namespaces, and the sekiwake binary itself.

Every daemon runs in the foreground on a private config in a private directory, bound to 127.0.0.1 on a
free port, and is stopped by its own PID.  Nothing here sends traffic anywhere but loopback or namespaces
that the helpers create.  Recipes follow shared/peers.md.

    env       paths (repository, tools/, Debian's python), SEKIWAKE_BIN, IN_CI
    gating    unavailable() and require_*(): skip outside CI, fail in CI
    proc      Daemon (a foreground subprocess stopped by its PID), wait_until, unique_name, /proc readers
    net       free ports, /proc/net socket tables, drain_socket, send_udp, UdpSink
    rsyslog   Rsyslog (imudp+imtcp), RsyslogStream (imtcp, plain or TLS), logger
    snmp      Snmptrapd, snmptrap/snmpinform, the shared SNMPv3 user
    netflow   Nfcapd, nfdump_flows, softflowd
    sflow     Sfacctd, pmacctd_sfprobe, sflow_pcap
    tshark    PacketCapture (tcpdump), tshark_udp_payloads: the oracle of what was on the wire
    netns     NetnsPair: two namespaces joined by a veth
    sekiwake  Sekiwake, SekiwakeProc: the binary's roles as subprocesses
    bus       BusSubscriber (tools/envelope.py sub), expected_sequences
    pcaps     tools/mkpcap.py, the builtin flows pcap, per-flow totals of a pcap
    tls       make_test_pki (openssl)

No module imports pytest at import time (bench/run uses env, proc, net and snmp); the fixtures are in conftest.py.
"""
