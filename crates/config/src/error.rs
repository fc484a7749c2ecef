//! Configuration errors, and finding the line of a key in the text.

use std::fmt;

/// A configuration file that could not be used.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(
                f,
                "{}:{}: key `{}`: {}",
                self.file, l, self.key, self.message
            ),
            None => write!(f, "{}: key `{}`: {}", self.file, self.key, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A TOML or type error at `key` (a path such as `forward.destination[0].url`).
pub(crate) fn toml_error(
    file: &str,
    text: &str,
    key: String,
    inner: toml::de::Error,
) -> ConfigError {
    ConfigError {
        file: file.to_owned(),
        line: inner.span().map(|s| line_of(text, s.start)),
        key: if key == "." { "-".into() } else { key },
        message: inner.message().to_owned(),
    }
}

/// The line of `key =` (or of a literal such as a table header) in the text.
pub(crate) fn find_key_line(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(needle)
                && (needle.starts_with('[') || t[needle.len()..].trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// The line of the `n`-th occurrence of `needle`.
pub(crate) fn nth_line(text: &str, needle: &str, n: usize) -> Option<usize> {
    text.match_indices(needle)
        .nth(n - 1)
        .map(|(o, _)| line_of(text, o))
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
