//! Saturated steam for the autoclave model: the rule engine's IAPWS-IF97 region-4 equations
//! (`alerting::sterilization::steam`, IAPWS-IF97 region 4), so that the simulated chamber
//! pressure during the hold is the saturation pressure of its temperature, as in a real
//! air-free chamber. The model stays inside region 4; outside it the result is NaN.

use alerting::sterilization::steam;

/// Saturation pressure in kPa (absolute) of water at `temp_c` degrees Celsius.
pub fn p_sat_kpa(temp_c: f64) -> f64 {
    steam::p_sat_kpa(temp_c).unwrap_or(f64::NAN)
}

/// Saturation temperature in degrees Celsius of steam at `p_kpa` kPa absolute.
pub fn t_sat_c(p_kpa: f64) -> f64 {
    steam::t_sat_c(p_kpa).unwrap_or(f64::NAN)
}
