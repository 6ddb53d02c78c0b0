//! Errors found while loading a rule pack: each names the key path and the TOML line.

use std::fmt;

/// One problem in a rule pack. Loading collects all of them before failing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where the pack came from (a file path, or `default.toml` for the built-in pack).
    pub origin: String,
    /// Key path, e.g. `rule[2] (W2).limit[0].low`.
    pub path: String,
    /// 1-based line in the TOML source, when known.
    pub line: Option<usize>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: {}: {}",
                self.origin, line, self.path, self.message
            ),
            None => write!(f, "{}: {}: {}", self.origin, self.path, self.message),
        }
    }
}

/// Why a pack file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read rule pack {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The pack has problems; every one is listed.
    #[error("rule pack is invalid ({} problem(s)):\n{}", .0.len(), list(.0))]
    Invalid(Vec<ConfigError>),
}

fn list(errs: &[ConfigError]) -> String {
    errs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects errors with line numbers resolved against the source text.
#[derive(Debug)]
pub(crate) struct Errors<'a> {
    pub src: &'a str,
    pub origin: &'a str,
    pub list: Vec<ConfigError>,
}

impl<'a> Errors<'a> {
    pub fn new(src: &'a str, origin: &'a str) -> Self {
        Self {
            src,
            origin,
            list: Vec::new(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.src.len());
        self.src
            .as_bytes()
            .get(..end)
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
            + 1
    }

    /// Records an error at a span (byte range) of the source.
    pub fn at(
        &mut self,
        span: Option<std::ops::Range<usize>>,
        path: &str,
        message: impl Into<String>,
    ) {
        let line = span.map(|s| self.line_of(s.start));
        self.list.push(ConfigError {
            origin: self.origin.to_owned(),
            path: path.to_owned(),
            line,
            message: message.into(),
        });
    }

    /// Records a TOML deserialization error, falling back to `fallback` for its span.
    pub fn toml(&mut self, err: &toml::de::Error, path: &str, fallback: std::ops::Range<usize>) {
        let span = err.span().unwrap_or(fallback);
        self.at(Some(span), path, err.message().trim().to_owned());
    }
}
