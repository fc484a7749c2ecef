//! Top-level sections: the shared ones are fields of [`Config`]; a role's own section is read by the role
//! with `Config::section`, from the same text, so its errors name the file, line and key like the rest.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserializer;

use crate::error::{line_of, toml_error, ConfigError};

/// The sections [`Config`] reads itself.
const SHARED: [&str; 6] = ["capture", "bus", "forward", "stats", "decode", "run"];

/// Where a configuration came from.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    file: String,
    text: String,
}

impl Source {
    pub(crate) fn new(file: &str, text: &str) -> Self {
        Self {
            file: file.to_owned(),
            text: text.to_owned(),
        }
    }

    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

/// Refuses a top-level key that is neither a shared section nor one of `role_sections`.
pub(crate) fn only_known(
    file: &str,
    text: &str,
    role_sections: &[&str],
) -> Result<(), ConfigError> {
    // The text parsed already as a `Config`, so it is valid TOML.
    let top: toml::Table = toml::from_str(text).unwrap_or_default();
    let known = |k: &str| SHARED.contains(&k) || role_sections.contains(&k);
    let Some(unknown) = top.keys().find(|k| !known(k)) else {
        return Ok(());
    };
    let expected: Vec<&str> = SHARED.iter().chain(role_sections).copied().collect();
    Err(ConfigError {
        file: file.to_owned(),
        line: section_line(text, unknown),
        key: unknown.clone(),
        message: format!("unknown section, expected one of {}", expected.join(", ")),
    })
}

/// The first line that opens `name` as a table (`[name]`, `[name.x]`, `[[name]]`) or assigns it.
fn section_line(text: &str, name: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start().trim_start_matches('[').trim_start();
        if let Some(rest) = t.strip_prefix(name) {
            let rest = rest.trim_start();
            if rest.starts_with([']', '.', '=']) {
                return Some(line_of(text, offset));
            }
        }
        offset += line.len();
    }
    None
}

/// Section `name` of the text `src` was read from, `None` when absent.
pub(crate) fn read<T: DeserializeOwned + Default>(
    src: &Source,
    name: &str,
) -> Result<T, ConfigError> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(toml::Deserializer::new(&src.text), &mut track);
    let picked = Pick::<T> {
        name,
        _section: PhantomData,
    }
    .deserialize(de);
    picked
        .map(Option::unwrap_or_default)
        .map_err(|e| toml_error(&src.file, &src.text, track.path().to_string(), e))
}

/// Deserializes one top-level table of a document and skips the others.
struct Pick<'n, T> {
    name: &'n str,
    _section: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Pick<'_, T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Pick<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a document with a [{}] table", self.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            match key == self.name {
                true => found = Some(map.next_value::<T>()?),
                false => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use crate::Config;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Probe {
        threshold: u32,
        mode: String,
    }

    const TEXT: &str = "[bus]\nhwm = 10\n\n[probe]\nthreshold = 3\nmode = \"fast\"\n";

    #[test]
    fn a_role_reads_its_own_section() {
        let cfg = Config::parse_with("r.toml", TEXT, &["probe"]).unwrap();
        assert_eq!(cfg.bus.hwm, 10);
        let p: Probe = cfg.section("probe").unwrap();
        assert_eq!((p.threshold, p.mode.as_str()), (3, "fast"));
        let absent: Probe = cfg.section("other").unwrap();
        assert_eq!(absent, Probe::default());
    }

    #[test]
    fn an_unknown_section_is_refused_with_its_line() {
        let e = Config::parse("r.toml", TEXT).unwrap_err().to_string();
        assert!(
            e.starts_with("r.toml:4: key `probe`: unknown section, expected one of capture, bus,"),
            "{e}"
        );
    }

    #[test]
    fn section_errors_name_file_line_and_key() {
        let bad = TEXT.replace("threshold = 3", "threshold = \"three\"");
        let cfg = Config::parse_with("r.toml", &bad, &["probe"]).unwrap();
        let e = cfg.section::<Probe>("probe").unwrap_err().to_string();
        assert!(
            e.starts_with("r.toml:5: key `probe.threshold`: invalid type"),
            "{e}"
        );
        let typo = TEXT.replace("mode =", "mood =");
        let cfg = Config::parse_with("r.toml", &typo, &["probe"]).unwrap();
        let e = cfg.section::<Probe>("probe").unwrap_err().to_string();
        assert!(e.starts_with("r.toml:6: key `probe"), "{e}");
        assert!(e.contains("unknown field `mood`"), "{e}");
    }
}
