//! The telemetry kinds sekiwake knows, their envelope codes and their names.

use std::fmt;
use std::str::FromStr;

/// A classified datagram kind. The discriminant is the envelope's `kind` byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Syslog = 1,
    NetflowV5 = 2,
    NetflowV9 = 3,
    Ipfix = 4,
    Sflow = 5,
    Snmptrap = 6,
}

impl Kind {
    /// Every kind, in envelope-code order (so `ALL[k.index()] == k`).
    pub const ALL: [Kind; 6] = [
        Kind::Syslog,
        Kind::NetflowV5,
        Kind::NetflowV9,
        Kind::Ipfix,
        Kind::Sflow,
        Kind::Snmptrap,
    ];

    /// How many kinds there are: the length of per-kind arrays (`[u64; Kind::COUNT]`).
    pub const COUNT: usize = Kind::ALL.len();

    /// Every kind's name, in the order of [`Kind::ALL`]: for help texts and "expected one of" messages.
    pub const NAMES: [&'static str; Kind::COUNT] = {
        let mut names = [""; Kind::COUNT];
        let mut i = 0;
        while i < Kind::COUNT {
            names[i] = Kind::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The names joined for people, e.g. `syslog, netflow-v5, ..., snmptrap`.
    pub fn name_list() -> String {
        Kind::NAMES.join(", ")
    }

    /// The envelope code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The kind for an envelope code; `None` for codes this build does not know (keep and pass them on).
    pub const fn from_code(code: u8) -> Option<Kind> {
        match code {
            1 => Some(Kind::Syslog),
            2 => Some(Kind::NetflowV5),
            3 => Some(Kind::NetflowV9),
            4 => Some(Kind::Ipfix),
            5 => Some(Kind::Sflow),
            6 => Some(Kind::Snmptrap),
            _ => None,
        }
    }

    /// The name used in topics, JSON and configuration.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Syslog => "syslog",
            Kind::NetflowV5 => "netflow-v5",
            Kind::NetflowV9 => "netflow-v9",
            Kind::Ipfix => "ipfix",
            Kind::Sflow => "sflow",
            Kind::Snmptrap => "snmptrap",
        }
    }

    /// The port family that carries this kind (the one classification checks it against).
    pub const fn family(self) -> Family {
        match self {
            Kind::Syslog => Family::Syslog,
            Kind::NetflowV5 | Kind::NetflowV9 => Family::Netflow,
            Kind::Ipfix => Family::Ipfix,
            Kind::Sflow => Family::Sflow,
            Kind::Snmptrap => Family::Snmptrap,
        }
    }

    /// A dense index `0..Kind::COUNT`, for per-kind counter arrays.
    pub const fn index(self) -> usize {
        self as usize - 1
    }

    /// Name of a variant byte of this kind, for people.
    pub fn variant_name(self, variant: u8) -> &'static str {
        match (self, variant) {
            (Kind::Syslog, 1) => "rfc3164",
            (Kind::Syslog, 2) => "rfc5424",
            (Kind::NetflowV5, _) => "v5",
            (Kind::NetflowV9, _) => "v9",
            (Kind::Ipfix, _) => "v10",
            (Kind::Sflow, _) => "v5",
            (Kind::Snmptrap, 0) => "v1",
            (Kind::Snmptrap, 1) => "v2c",
            (Kind::Snmptrap, 3) => "v3",
            _ => "unknown",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A port family: what capture expects on a port. `Netflow` and `Ipfix` ports take NetFlow v5, v9 and IPFIX,
/// told apart by the payload's version field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Syslog,
    Netflow,
    Ipfix,
    Sflow,
    Snmptrap,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Syslog,
        Family::Netflow,
        Family::Ipfix,
        Family::Sflow,
        Family::Snmptrap,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Family::Syslog => "syslog",
            Family::Netflow => "netflow",
            Family::Ipfix => "ipfix",
            Family::Sflow => "sflow",
            Family::Snmptrap => "snmptrap",
        }
    }

    /// The well-known ports a collector listens on.
    pub const fn default_ports(self) -> &'static [u16] {
        match self {
            Family::Syslog => &[514],
            Family::Netflow => &[2055, 9995, 9996],
            Family::Ipfix => &[4739],
            Family::Sflow => &[6343],
            Family::Snmptrap => &[162],
        }
    }
}

impl FromStr for Family {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Family::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A kind or family name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{0}`")]
pub struct UnknownName(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k));
            assert_eq!(k.name().parse::<Kind>(), Ok(k));
            assert_eq!(Kind::ALL[k.index()], k);
        }
        assert_eq!(Kind::from_code(0), None);
        assert_eq!(Kind::from_code(200), None);
        assert!("netflow".parse::<Kind>().is_err());
        assert_eq!(Kind::COUNT, 6);
        assert_eq!(Kind::NAMES[Kind::Ipfix.index()], "ipfix");
        assert!(Kind::name_list().starts_with("syslog, netflow-v5, "));
        assert_eq!("netflow".parse::<Family>(), Ok(Family::Netflow));
    }
}
