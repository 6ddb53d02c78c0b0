//! The parameters of the cycle verdict, from the pack's `[sterilization]` section: the numbers
//! (band, steam tolerance, gaps, grace, ...), each with its provenance like every number of a
//! pack, and the program table (set temperature and minimum hold per program, WS 310.2-2016).
//! The section is compiled by the rule loader (`rule/sterilization.rs`).

use super::Program;
use crate::provenance::NumberNote;

/// The parameters of one program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgramParams {
    pub program: Program,
    /// Set (sterilization) temperature, degrees Celsius.
    pub set_c: f64,
    /// Minimum hold at or above the set temperature, seconds.
    pub hold_secs: i64,
}

/// The compiled `[sterilization]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct SterilParams {
    pub programs: Vec<ProgramParams>,
    pub band_k: f64,
    pub steam_k: f64,
    pub max_gap_secs: i64,
    pub pair_secs: i64,
    pub grace_secs: i64,
    pub reorder_secs: i64,
    pub recall_list_max: usize,
    pub bi_negatives_to_resume: u32,
    /// An implant load without its BI result this long (seconds) after its start: S5.
    pub implant_bi_max_secs: i64,
    /// Every number with its provenance.
    pub numbers: Vec<NumberNote>,
}

impl SterilParams {
    /// The parameters of `program`, if the pack has them (leak tests have none).
    pub fn program(&self, program: Program) -> Option<&ProgramParams> {
        self.programs.iter().find(|p| p.program == program)
    }
}
