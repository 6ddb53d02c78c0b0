//! HJ 212 decoder (in progress on the hj212 branch).

/// Placeholder until the decoder lands.
///
/// # Errors
/// Always: not built yet.
pub fn report(
    _input: impl std::io::BufRead,
    _out: impl std::io::Write,
    _profile: Option<&()>,
) -> std::io::Result<bool> {
    Err(std::io::Error::other(
        "HJ 212 decoding is not in this build",
    ))
}
