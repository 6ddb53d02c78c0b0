//! The files a configuration names: their paths (relative to the naming file's directory) and
//! their text (read and `${VAR}`-interpolated, errors in the `file:line: key: message` form
//! of the rule pack and supervisors file).

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::super::interpolate::interpolate;
use super::Validator;

impl Validator<'_> {
    /// A path written in the file, relative to the file's directory; a default (not written
    /// in the file, so without a span) stays relative to the working directory.
    pub(super) fn path(&self, s: &Spanned<String>) -> PathBuf {
        let path = Path::new(s.get_ref());
        if path.is_relative() && s.span().end > 0 {
            self.base.join(path)
        } else {
            path.to_path_buf()
        }
    }

    /// The text of the TOML file named at `path` (key `key`), interpolated; `None` with the
    /// problems recorded when it cannot be read or a reference cannot be resolved.
    pub(super) fn read_interpolated(
        &mut self,
        path: &Spanned<String>,
        key: &str,
    ) -> Option<String> {
        let file = self.path(path);
        let shown = file.display().to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                self.err(path, key, format!("cannot read {shown:?}: {error}"));
                return None;
            }
        };
        match interpolate(&text, self.env) {
            Ok(text) => Some(text),
            Err(errors) => {
                for e in errors {
                    self.err(
                        path,
                        key,
                        format!("{shown}:{}: (environment): {}", e.line, e.message),
                    );
                }
                None
            }
        }
    }
}
