//! The IANA "IPFIX Information Elements" registry: every assigned element's name and abstract data type,
//! generated at build time from `data/ipfix-information-elements.csv` (the registry's ElementID, Name, Abstract
//! Data Type, Data Type Semantics and Status columns, revision [`REGISTRY_REVISION`]). NetFlow v9 field types
//! 1..=127 carry the same meaning, so v9 uses this table too. An element missing here keeps its bytes: the
//! record names it `ie<N>` (or `<PEN>.<N>` for an enterprise element) and shows them in hex.
//!
//! NetFlow v9 options scope fields are not elements: their types are a small registry of their own
//! ([`v9_scope_name`]).

/// The registry revision the data file was taken from (its `updated` date)…
pub const REGISTRY_REVISION: &str = "2026-07-22";
/// …and the last element id assigned in it.
pub const REGISTRY_LAST_ID: u16 = 533;

/// Abstract data types (RFC 7012 §3.1, RFC 6313 for the lists, RFC 9740 for unsigned256), named as in the
/// registry. How each is read and printed is the records' business; the table only says which it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    OctetArray,
    Unsigned8,
    Unsigned16,
    Unsigned32,
    Unsigned64,
    Unsigned256,
    Signed8,
    Signed16,
    Signed32,
    Signed64,
    Float32,
    Float64,
    Boolean,
    MacAddress,
    String,
    DateTimeSeconds,
    DateTimeMilliseconds,
    DateTimeMicroseconds,
    DateTimeNanoseconds,
    Ipv4Address,
    Ipv6Address,
    BasicList,
    SubTemplateList,
    SubTemplateMultiList,
}

impl DataType {
    /// The type a registry row names (`unsigned64`, `ipv4Address`...).
    pub fn from_iana(name: &str) -> Option<DataType> {
        use DataType as T;
        Some(match name {
            "octetArray" => T::OctetArray,
            "unsigned8" => T::Unsigned8,
            "unsigned16" => T::Unsigned16,
            "unsigned32" => T::Unsigned32,
            "unsigned64" => T::Unsigned64,
            "unsigned256" => T::Unsigned256,
            "signed8" => T::Signed8,
            "signed16" => T::Signed16,
            "signed32" => T::Signed32,
            "signed64" => T::Signed64,
            "float32" => T::Float32,
            "float64" => T::Float64,
            "boolean" => T::Boolean,
            "macAddress" => T::MacAddress,
            "string" => T::String,
            "dateTimeSeconds" => T::DateTimeSeconds,
            "dateTimeMilliseconds" => T::DateTimeMilliseconds,
            "dateTimeMicroseconds" => T::DateTimeMicroseconds,
            "dateTimeNanoseconds" => T::DateTimeNanoseconds,
            "ipv4Address" => T::Ipv4Address,
            "ipv6Address" => T::Ipv6Address,
            "basicList" => T::BasicList,
            "subTemplateList" => T::SubTemplateList,
            "subTemplateMultiList" => T::SubTemplateMultiList,
            _ => return None,
        })
    }
}

/// One IETF element (enterprise 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element {
    pub name: &'static str,
    pub data_type: DataType,
}

include!(concat!(env!("OUT_DIR"), "/ipfix_elements.rs"));

/// The IANA element with this id, if the registry assigns it (an array index).
pub fn lookup(id: u16) -> Option<&'static Element> {
    ELEMENTS.get(usize::from(id))?.as_ref()
}

/// NetFlow v9 options scope field types (RFC 3954 §6.1), which are not element ids.
pub fn v9_scope_name(scope_type: u16) -> Option<&'static str> {
    Some(match scope_type {
        1 => "scopeSystem",
        2 => "scopeInterface",
        3 => "scopeLineCard",
        4 => "scopeCache",
        5 => "scopeTemplate",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType as T;

    const DATA: &str = include_str!("../../data/ipfix-information-elements.csv");

    /// (id, name, type) of each assigned row of the data file, read here apart from the build script.
    fn registry_rows() -> Vec<(u16, &'static str, &'static str)> {
        DATA.lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|c| !c[0].contains('-') && !c[1].is_empty() && !c[2].is_empty())
            .map(|c| (c[0].parse().unwrap(), c[1], c[2]))
            .collect()
    }

    #[test]
    fn every_registry_row_is_in_the_table_with_its_name_and_type() {
        let rows = registry_rows();
        for &(id, name, ty) in &rows {
            let want = DataType::from_iana(ty).unwrap_or_else(|| panic!("{id}: unknown type {ty}"));
            assert_eq!(
                lookup(id),
                Some(&Element {
                    name,
                    data_type: want
                }),
                "element {id}"
            );
        }
        let named = (0..=u16::MAX).filter(|&id| lookup(id).is_some()).count();
        assert_eq!(
            named,
            rows.len(),
            "the table holds exactly the registry's rows"
        );
    }

    /// Pinned facts of revision 2026-07-22, written out here so that a truncated, edited or swapped data file
    /// fails: how many elements, which ids are gaps, and the tally per abstract type.
    #[test]
    fn the_table_is_the_pinned_registry_revision() {
        assert!(DATA.lines().count() == 510, "rows in the data file");
        let gaps: Vec<u16> = (0..=REGISTRY_LAST_ID)
            .filter(|&id| lookup(id).is_none())
            .collect();
        let v9_compatible = (65..=69).chain([97]).chain(105..=127);
        let expected: Vec<u16> = [0]
            .into_iter()
            .chain(v9_compatible)
            .chain([416, 419])
            .collect();
        assert_eq!(
            gaps, expected,
            "reserved, NetFlow-v9-compatible and deprecated duplicates"
        );
        assert_eq!(
            ELEMENTS.len(),
            usize::from(REGISTRY_LAST_ID) + 1,
            "last assigned id"
        );
        assert_eq!(lookup(REGISTRY_LAST_ID + 1), None);
        assert_eq!(lookup(u16::MAX), None);
        let tally = |t: DataType| {
            (0..=REGISTRY_LAST_ID)
                .filter(|&id| lookup(id).is_some_and(|e| e.data_type == t))
                .count()
        };
        let counts = [
            (T::Unsigned64, 108),
            (T::Unsigned32, 87),
            (T::Unsigned8, 71),
            (T::Unsigned16, 61),
            (T::OctetArray, 39),
            (T::String, 37),
            (T::Ipv4Address, 16),
            (T::Ipv6Address, 14),
            (T::BasicList, 14),
            (T::DateTimeMilliseconds, 9),
            (T::MacAddress, 8),
            (T::DateTimeSeconds, 7),
            (T::Float64, 6),
            (T::DateTimeMicroseconds, 5),
            (T::DateTimeNanoseconds, 5),
            (T::Boolean, 5),
            (T::SubTemplateList, 5),
            (T::Unsigned256, 3),
            (T::SubTemplateMultiList, 1),
            (T::Signed32, 1),
        ];
        for (t, n) in counts {
            assert_eq!(tally(t), n, "{t:?}");
        }
        assert_eq!(counts.iter().map(|c| c.1).sum::<usize>(), 502);
    }

    #[test]
    fn well_known_elements() {
        let known = [
            (1, "octetDeltaCount", T::Unsigned64),
            (4, "protocolIdentifier", T::Unsigned8),
            (6, "tcpControlBits", T::Unsigned16),
            (8, "sourceIPv4Address", T::Ipv4Address),
            (27, "sourceIPv6Address", T::Ipv6Address),
            (34, "samplingInterval", T::Unsigned32),
            (56, "sourceMacAddress", T::MacAddress),
            (71, "mplsLabelStackSection2", T::OctetArray),
            (79, "mplsLabelStackSection10", T::OctetArray),
            (82, "interfaceName", T::String),
            (147, "wlanSSID", T::String),
            (150, "flowStartSeconds", T::DateTimeSeconds),
            (152, "flowStartMilliseconds", T::DateTimeMilliseconds),
            (154, "flowStartMicroseconds", T::DateTimeMicroseconds),
            (156, "flowStartNanoseconds", T::DateTimeNanoseconds),
            (198, "octetDeltaSumOfSquares", T::Unsigned64),
            (230, "natEvent", T::Unsigned8),
            (231, "initiatorOctets", T::Unsigned64),
            (232, "responderOctets", T::Unsigned64),
            (236, "VRFname", T::String),
            (245, "dot1qCustomerVlanId", T::Unsigned16),
            (252, "ingressPhysicalInterface", T::Unsigned32),
            (253, "egressPhysicalInterface", T::Unsigned32),
            (276, "dataRecordsReliability", T::Boolean),
            (291, "basicList", T::BasicList),
            (292, "subTemplateList", T::SubTemplateList),
            (293, "subTemplateMultiList", T::SubTemplateMultiList),
            (309, "samplingSize", T::Unsigned32),
            (310, "samplingPopulation", T::Unsigned32),
            (320, "absoluteError", T::Float64),
            (322, "observationTimeSeconds", T::DateTimeSeconds),
            (335, "selectorName", T::String),
            (365, "staMacAddress", T::MacAddress),
            (434, "mibObjectValueInteger", T::Signed32),
            (515, "ipv6ExtensionHeadersFull", T::Unsigned256),
            (533, "pathDelaySumDeltaMicroseconds", T::Unsigned64),
        ];
        for (id, name, data_type) in known {
            assert_eq!(
                lookup(id),
                Some(&Element { name, data_type }),
                "element {id}"
            );
        }
    }

    #[test]
    fn v9_scope_types_have_their_own_names() {
        assert_eq!(v9_scope_name(1), Some("scopeSystem"));
        assert_eq!(v9_scope_name(5), Some("scopeTemplate"));
        assert_eq!(v9_scope_name(6), None);
        // the same number as an element id means something else
        assert_eq!(lookup(1).map(|e| e.name), Some("octetDeltaCount"));
    }
}
