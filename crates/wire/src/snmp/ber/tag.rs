//! The tags SNMP messages carry: BER universal types, SMI application types (RFC 2578), the exception values
//! of a variable binding and the PDU types (RFC 3416; the v1 Trap-PDU from RFC 1157).

pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OBJECT_ID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;

pub const IP_ADDRESS: u8 = 0x40;
pub const COUNTER32: u8 = 0x41;
/// Gauge32, alias Unsigned32.
pub const GAUGE32: u8 = 0x42;
pub const TIMETICKS: u8 = 0x43;
pub const OPAQUE: u8 = 0x44;
pub const COUNTER64: u8 = 0x46;

pub const NO_SUCH_OBJECT: u8 = 0x80;
pub const NO_SUCH_INSTANCE: u8 = 0x81;
pub const END_OF_MIB_VIEW: u8 = 0x82;

pub const GET: u8 = 0xa0;
pub const GET_NEXT: u8 = 0xa1;
pub const RESPONSE: u8 = 0xa2;
pub const SET: u8 = 0xa3;
pub const TRAP_V1: u8 = 0xa4;
pub const GET_BULK: u8 = 0xa5;
pub const INFORM: u8 = 0xa6;
pub const TRAP_V2: u8 = 0xa7;
pub const REPORT: u8 = 0xa8;

/// The class and constructed bits of a tag: every PDU type is context-specific and constructed
/// (`tag & CLASS_MASK == PDU_CLASS`), including types this decoder does not name.
pub const CLASS_MASK: u8 = 0xe0;
pub const PDU_CLASS: u8 = 0xa0;
