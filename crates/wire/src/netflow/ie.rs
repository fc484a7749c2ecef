//! Names and value types of the common information elements (IANA "IPFIX Information Elements"). NetFlow v9
//! field types 1..=127 carry the same meaning, so v9 uses this table too. An element missing here keeps its
//! bytes: the record names it `ie<N>` (or `<PEN>.<N>` for an enterprise element) and shows them in hex.

/// How a field's bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Big-endian unsigned integer of 1..=8 bytes (reduced-size encoding allowed).
    Unsigned,
    Ipv4,
    Ipv6,
    Mac,
    /// UTF-8 text, trailing NULs dropped.
    Text,
    /// Kept as bytes.
    Octets,
    /// IEEE float64 (or float32).
    Float,
}

use ValueType::{Ipv4, Ipv6, Mac, Octets, Text, Unsigned as U};

/// (element id, IANA name, type), sorted by id.
const TABLE: &[(u16, &str, ValueType)] = &[
    (1, "octetDeltaCount", U),
    (2, "packetDeltaCount", U),
    (3, "deltaFlowCount", U),
    (4, "protocolIdentifier", U),
    (5, "ipClassOfService", U),
    (6, "tcpControlBits", U),
    (7, "sourceTransportPort", U),
    (8, "sourceIPv4Address", Ipv4),
    (9, "sourceIPv4PrefixLength", U),
    (10, "ingressInterface", U),
    (11, "destinationTransportPort", U),
    (12, "destinationIPv4Address", Ipv4),
    (13, "destinationIPv4PrefixLength", U),
    (14, "egressInterface", U),
    (15, "ipNextHopIPv4Address", Ipv4),
    (16, "bgpSourceAsNumber", U),
    (17, "bgpDestinationAsNumber", U),
    (18, "bgpNextHopIPv4Address", Ipv4),
    (19, "postMCastPacketDeltaCount", U),
    (20, "postMCastOctetDeltaCount", U),
    (21, "flowEndSysUpTime", U),
    (22, "flowStartSysUpTime", U),
    (23, "postOctetDeltaCount", U),
    (24, "postPacketDeltaCount", U),
    (25, "minimumIpTotalLength", U),
    (26, "maximumIpTotalLength", U),
    (27, "sourceIPv6Address", Ipv6),
    (28, "destinationIPv6Address", Ipv6),
    (29, "sourceIPv6PrefixLength", U),
    (30, "destinationIPv6PrefixLength", U),
    (31, "flowLabelIPv6", U),
    (32, "icmpTypeCodeIPv4", U),
    (33, "igmpType", U),
    (34, "samplingInterval", U),
    (35, "samplingAlgorithm", U),
    (36, "flowActiveTimeout", U),
    (37, "flowIdleTimeout", U),
    (38, "engineType", U),
    (39, "engineId", U),
    (40, "exportedOctetTotalCount", U),
    (41, "exportedMessageTotalCount", U),
    (42, "exportedFlowRecordTotalCount", U),
    (44, "sourceIPv4Prefix", Ipv4),
    (45, "destinationIPv4Prefix", Ipv4),
    (46, "mplsTopLabelType", U),
    (47, "mplsTopLabelIPv4Address", Ipv4),
    (48, "samplerId", U),
    (49, "samplerMode", U),
    (50, "samplerRandomInterval", U),
    (52, "minimumTTL", U),
    (53, "maximumTTL", U),
    (54, "fragmentIdentification", U),
    (55, "postIpClassOfService", U),
    (56, "sourceMacAddress", Mac),
    (57, "postDestinationMacAddress", Mac),
    (58, "vlanId", U),
    (59, "postVlanId", U),
    (60, "ipVersion", U),
    (61, "flowDirection", U),
    (62, "ipNextHopIPv6Address", Ipv6),
    (63, "bgpNextHopIPv6Address", Ipv6),
    (64, "ipv6ExtensionHeaders", U),
    (70, "mplsTopLabelStackSection", Octets),
    (80, "destinationMacAddress", Mac),
    (81, "postSourceMacAddress", Mac),
    (82, "interfaceName", Text),
    (83, "interfaceDescription", Text),
    (84, "samplerName", Text),
    (85, "octetTotalCount", U),
    (86, "packetTotalCount", U),
    (88, "fragmentOffset", U),
    (89, "forwardingStatus", U),
    (90, "mplsVpnRouteDistinguisher", Octets),
    (94, "applicationDescription", Text),
    (95, "applicationId", Octets),
    (96, "applicationName", Text),
    (128, "bgpNextAdjacentAsNumber", U),
    (129, "bgpPrevAdjacentAsNumber", U),
    (130, "exporterIPv4Address", Ipv4),
    (131, "exporterIPv6Address", Ipv6),
    (136, "flowEndReason", U),
    (139, "icmpTypeCodeIPv6", U),
    (143, "meteringProcessId", U),
    (144, "exportingProcessId", U),
    (148, "flowId", U),
    (149, "observationDomainId", U),
    (150, "flowStartSeconds", U),
    (151, "flowEndSeconds", U),
    (152, "flowStartMilliseconds", U),
    (153, "flowEndMilliseconds", U),
    (154, "flowStartMicroseconds", U),
    (155, "flowEndMicroseconds", U),
    (156, "flowStartNanoseconds", U),
    (157, "flowEndNanoseconds", U),
    (160, "systemInitTimeMilliseconds", U),
    (161, "flowDurationMilliseconds", U),
    (176, "icmpTypeIPv4", U),
    (177, "icmpCodeIPv4", U),
    (178, "icmpTypeIPv6", U),
    (179, "icmpCodeIPv6", U),
    (180, "udpSourcePort", U),
    (181, "udpDestinationPort", U),
    (182, "tcpSourcePort", U),
    (183, "tcpDestinationPort", U),
    (192, "ipTTL", U),
    (193, "nextHeaderIPv6", U),
    (195, "ipDiffServCodePoint", U),
    (197, "fragmentFlags", U),
    (210, "paddingOctets", Octets),
    (224, "ipTotalLength", U),
    (225, "postNATSourceIPv4Address", Ipv4),
    (226, "postNATDestinationIPv4Address", Ipv4),
    (227, "postNAPTSourceTransportPort", U),
    (228, "postNAPTDestinationTransportPort", U),
    (233, "firewallEvent", U),
    (234, "ingressVRFID", U),
    (235, "egressVRFID", U),
    (239, "biflowDirection", U),
    (243, "dot1qVlanId", U),
    (244, "dot1qPriority", U),
    (256, "ethernetType", U),
    (281, "postNATSourceIPv6Address", Ipv6),
    (282, "postNATDestinationIPv6Address", Ipv6),
    (300, "observationDomainName", Text),
    (302, "selectorId", U),
    (304, "selectorAlgorithm", U),
    (305, "samplingPacketInterval", U),
    (306, "samplingPacketSpace", U),
    (323, "observationTimeMilliseconds", U),
    (346, "privateEnterpriseNumber", U),
    (352, "layer2OctetDeltaCount", U),
];

/// The IANA name and type of an IETF element (enterprise 0), if the table knows it.
pub fn lookup(id: u16) -> Option<(&'static str, ValueType)> {
    TABLE
        .binary_search_by_key(&id, |e| e.0)
        .ok()
        .map(|i| (TABLE[i].1, TABLE[i].2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn lookup_known_and_unknown() {
        assert_eq!(lookup(8), Some(("sourceIPv4Address", Ipv4)));
        assert_eq!(lookup(1), Some(("octetDeltaCount", U)));
        assert_eq!(lookup(43), None);
    }
}
