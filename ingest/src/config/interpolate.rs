//! `${VAR}` interpolation of configuration files, before TOML parsing, so that secrets (robot
//! keys, tokens, passwords) stay in the environment (a systemd `EnvironmentFile`, a container's
//! secrets) and out of the files.
//!
//! - `${NAME}`: the variable's value; unset is an error naming the variable and its line.
//! - `${NAME:-default}`: the value, or `default` when the variable is unset or empty.
//! - `$$`: a literal `$`. A `$` followed by anything else is kept as written.
//! - Comments are left alone (a commented-out `${NAME}` needs no variable).
//!
//! Values are inserted as written, like Vector and Docker Compose do: inside a TOML string a
//! value must not contain a `"` or a `\` unescaped. A value containing a line break is refused,
//! so that every line number of a later error still points at the file as written.

use super::Env;

/// One problem with a `${...}` reference: the 1-based line of the file and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub line: usize,
    /// The variable concerned (or the text that is not a reference).
    pub variable: String,
    pub message: String,
}

/// What a scanner is inside, for telling comments from strings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Inside {
    Code,
    Comment,
    Basic,
    Literal,
    MultiBasic,
    MultiLiteral,
}

/// Replaces every `${...}` reference of `text` outside comments with its value from `env`.
///
/// # Errors
/// Every unset variable without a default, malformed reference and value with a line break,
/// each with its line.
pub fn interpolate(text: &str, env: &dyn Env) -> Result<String, Vec<InterpolationError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut inside = Inside::Code;
    let mut line = 1usize;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let (after, consumed) = match (inside, c) {
            (_, '\n') => {
                line += 1;
                if matches!(inside, Inside::Comment | Inside::Basic | Inside::Literal) {
                    inside = Inside::Code;
                }
                ("\n", 1)
            }
            (Inside::Comment, _) => (&rest[..c.len_utf8()], c.len_utf8()),
            (_, '$') if rest.starts_with("$$") => ("$", 2),
            (_, '$') if rest.starts_with("${") => {
                let line_end = rest.find('\n').unwrap_or(rest.len());
                let Some(end) = rest[..line_end].find('}') else {
                    errors.push(InterpolationError {
                        line,
                        variable: rest[..line_end].to_owned(),
                        message: "`${` without its closing `}` on the same line (write `$$` \
                                  for a literal `$`)"
                            .into(),
                    });
                    out.push_str(&rest[..line_end]);
                    rest = &rest[line_end..];
                    continue;
                };
                let reference = &rest[2..end];
                match resolve(reference, env) {
                    Ok(value) if value.contains('\n') || value.contains('\r') => {
                        errors.push(InterpolationError {
                            line,
                            variable: name_of(reference).to_owned(),
                            message: "the value contains a line break, which a configuration \
                                      value cannot take from the environment"
                                .into(),
                        });
                    }
                    Ok(value) => out.push_str(&value),
                    Err(message) => errors.push(InterpolationError {
                        line,
                        variable: name_of(reference).to_owned(),
                        message,
                    }),
                }
                rest = &rest[end + 1..];
                continue;
            }
            (Inside::Code, '#') => {
                inside = Inside::Comment;
                ("#", 1)
            }
            (Inside::Code, '"') if rest.starts_with("\"\"\"") => {
                inside = Inside::MultiBasic;
                ("\"\"\"", 3)
            }
            (Inside::Code, '\'') if rest.starts_with("'''") => {
                inside = Inside::MultiLiteral;
                ("'''", 3)
            }
            (Inside::Code, '"') => {
                inside = Inside::Basic;
                ("\"", 1)
            }
            (Inside::Code, '\'') => {
                inside = Inside::Literal;
                ("'", 1)
            }
            (Inside::Basic | Inside::MultiBasic, '\\') => {
                // An escape: the next character never ends the string.
                let n = 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
                if rest[1..].starts_with('\n') {
                    line += 1;
                }
                (&rest[..n], n)
            }
            (Inside::Basic, '"') | (Inside::Literal, '\'') => {
                inside = Inside::Code;
                (&rest[..1], 1)
            }
            (Inside::MultiBasic, '"') if rest.starts_with("\"\"\"") => {
                inside = Inside::Code;
                ("\"\"\"", 3)
            }
            (Inside::MultiLiteral, '\'') if rest.starts_with("'''") => {
                inside = Inside::Code;
                ("'''", 3)
            }
            _ => (&rest[..c.len_utf8()], c.len_utf8()),
        };
        out.push_str(after);
        rest = &rest[consumed..];
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn name_of(reference: &str) -> &str {
    reference
        .split_once(":-")
        .map_or(reference, |(name, _)| name)
}

/// The value of `NAME` or `NAME:-default`.
fn resolve(reference: &str, env: &dyn Env) -> Result<String, String> {
    let (name, default) = match reference.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (reference, None),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`${{{reference}}}` is not a reference like ${{NAME}} or ${{NAME:-default}} \
             (NAME: letters, digits, `_`; write `$$` for a literal `$`)"
        ));
    }
    match (env.var(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_owned()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(format!(
            "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env() -> HashMap<String, String> {
        HashMap::from([
            ("WJ_KEY".to_owned(), "k3y".to_owned()),
            ("WJ_EMPTY".to_owned(), String::new()),
            ("WJ_LINES".to_owned(), "a\nb".to_owned()),
        ])
    }

    #[test]
    fn a_set_variable_is_replaced_by_its_value() {
        let out = interpolate("key = \"${WJ_KEY}\"\nurl = \"x?k=${WJ_KEY}&y\"\n", &env());
        assert_eq!(out.unwrap(), "key = \"k3y\"\nurl = \"x?k=k3y&y\"\n");
    }

    #[test]
    fn an_unset_variable_takes_its_default_and_so_does_an_empty_one() {
        let out = interpolate("a = \"${WJ_NONE:-x:y}\"\nb = \"${WJ_EMPTY:-d}\"\n", &env());
        assert_eq!(out.unwrap(), "a = \"x:y\"\nb = \"d\"\n");
        assert_eq!(
            interpolate("a = \"${WJ_NONE:-}\"", &env()).unwrap(),
            "a = \"\""
        );
    }

    #[test]
    fn an_unset_variable_without_default_is_an_error_naming_it_and_its_line() {
        let errors =
            interpolate("a = 1\n\nb = \"${WJ_NONE}\"\nc = \"${WJ_KEY}\"\n", &env()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 3);
        assert_eq!(errors[0].variable, "WJ_NONE");
        assert!(
            errors[0].message.contains("WJ_NONE is not set"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn a_double_dollar_is_a_literal_dollar_and_a_lone_dollar_stays() {
        let out = interpolate("p = \"a$$b$${WJ_KEY}$x\"\n", &env());
        assert_eq!(out.unwrap(), "p = \"a$b${WJ_KEY}$x\"\n");
    }

    #[test]
    fn comments_are_not_interpolated_but_a_hash_in_a_string_is_no_comment() {
        let text = "# set ${WJ_NONE} first\na = \"#${WJ_KEY}\" # ${WJ_NONE}\nb = '#' \n";
        assert_eq!(
            interpolate(text, &env()).unwrap(),
            "# set ${WJ_NONE} first\na = \"#k3y\" # ${WJ_NONE}\nb = '#' \n"
        );
        let multi = "a = \"\"\"\n# not a comment ${WJ_KEY}\n\"\"\"\n# ${WJ_NONE}\n";
        assert_eq!(
            interpolate(multi, &env()).unwrap(),
            "a = \"\"\"\n# not a comment k3y\n\"\"\"\n# ${WJ_NONE}\n"
        );
    }

    #[test]
    fn malformed_references_and_line_breaks_are_errors_with_their_lines() {
        let errors = interpolate(
            "a = \"${1X}\"\nb = \"${WJ_LINES}\"\nc = \"${WJ_KEY\"\n",
            &env(),
        )
        .unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 2, 3], "{errors:?}");
        assert!(errors[1].message.contains("line break"), "{errors:?}");
        assert!(errors[2].message.contains("closing"), "{errors:?}");
    }
}
