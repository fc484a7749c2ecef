//! Which kinds a subscriber (or a destination, or a rule) takes, and the topic prefixes that select them.

use std::fmt;
use std::str::FromStr;

use wire::kind::Kind;

/// A kind name, `netflow` (NetFlow v5 and v9: the topics that start `netflow-`) or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindSelector {
    All,
    Netflow,
    One(Kind),
}

impl KindSelector {
    pub fn matches(self, kind: Option<Kind>) -> bool {
        match (self, kind) {
            (KindSelector::All, _) => true,
            (KindSelector::Netflow, Some(k)) => matches!(k, Kind::NetflowV5 | Kind::NetflowV9),
            (KindSelector::One(want), Some(k)) => want == k,
            (_, None) => false,
        }
    }

    /// The topic prefix that takes exactly these kinds; `None` for all of them.
    pub fn topic_prefix(self) -> Option<String> {
        match self {
            KindSelector::All => None,
            KindSelector::Netflow => Some("netflow-".to_owned()),
            KindSelector::One(k) => Some(format!("{}/", k.name())),
        }
    }

    /// Every name a selector can be written as, for messages and help.
    pub fn names() -> String {
        format!("{}, netflow or all", Kind::name_list())
    }
}

/// The subscription prefixes for `selectors`, each once; empty (everything) when one of them is `all` or
/// there are none.
pub fn prefixes(selectors: impl IntoIterator<Item = KindSelector>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sel in selectors {
        let Some(p) = sel.topic_prefix() else {
            return Vec::new();
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

impl FromStr for KindSelector {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(KindSelector::All),
            "netflow" => Ok(KindSelector::Netflow),
            other => other
                .parse::<Kind>()
                .map(KindSelector::One)
                .map_err(|_| format!("`{s}` is not a kind ({})", KindSelector::names())),
        }
    }
}

impl TryFrom<String> for KindSelector {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// Configuration files name selectors as strings.
impl<'de> serde::Deserialize<'de> for KindSelector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for KindSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KindSelector::All => f.write_str("all"),
            KindSelector::Netflow => f.write_str("netflow"),
            KindSelector::One(k) => f.write_str(k.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_each_selector_once() {
        let sel = |s: &str| s.parse::<KindSelector>().unwrap();
        let p = prefixes([sel("syslog"), sel("netflow"), sel("syslog")]);
        assert_eq!(p, vec!["syslog/".to_owned(), "netflow-".to_owned()]);
        assert!(prefixes([sel("sflow"), sel("all")]).is_empty());
        assert!(prefixes([]).is_empty());
    }

    #[test]
    fn names_are_listed_in_errors() {
        let e = "bogus".parse::<KindSelector>().unwrap_err();
        assert!(
            e.contains("netflow-v9") && e.contains("snmptrap") && e.contains("all"),
            "{e}"
        );
        assert!(KindSelector::Netflow.matches(Some(Kind::NetflowV5)));
        assert!(!KindSelector::Netflow.matches(Some(Kind::Ipfix)));
    }
}
