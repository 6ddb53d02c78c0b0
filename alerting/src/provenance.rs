//! Numbers with their provenance: every number of a rule pack (and of its `[sterilization]`
//! section) says where it comes from, a standard clause with the confidence in it or a product
//! default (docs/standards.md). Checked and recorded while a pack loads (`rule/numbers.rs`).

/// How sure we are of a standard value (docs/standards.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    /// `[S]`: read in a retrieved source.
    Sourced,
    /// `[R]`: to be verified; must stay configurable.
    ToVerify,
}

/// Where a number in the pack comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Provenance {
    /// A standard, with its clause.
    Std {
        clause: String,
        confidence: Confidence,
    },
    /// A product default of weijian.
    Default,
}

/// One number of the pack with its provenance, for documentation and `check-config` output.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberNote {
    pub path: String,
    pub value: f64,
    pub provenance: Provenance,
    pub note: Option<String>,
}
