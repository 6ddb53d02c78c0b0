//! Saturated steam, IAPWS-IF97 region 4 (IAPWS R7-97; docs/standards.md): the
//! saturation temperature of a pressure (the backward equation `T_s(p)`) and the saturation
//! pressure of a temperature. The cycle verdict compares the chamber temperature with
//! `T_s(p)` of the measured absolute chamber pressure: air (or other non-condensable gas) in
//! the chamber shows as a temperature below `T_s(p)`, superheat as one above.

/// The ten coefficients n1..n10 of the IF97 region-4 saturation equation (T in K, p in MPa).
const N: [f64; 10] = [
    0.116_705_214_527_67e4,
    -0.724_213_167_032_06e6,
    -0.170_738_469_400_92e2,
    0.120_208_247_024_70e5,
    -0.323_255_503_223_33e7,
    0.149_151_086_135_30e2,
    -0.482_326_573_615_91e4,
    0.405_113_405_420_57e6,
    -0.238_555_575_678_49,
    0.650_175_348_447_98e3,
];

/// Lowest pressure of region 4: the triple point, 611.213 Pa, in kPa.
pub const P_MIN_KPA: f64 = 0.611_213;
/// Highest pressure of region 4: the critical point, 22.064 MPa, in kPa.
pub const P_MAX_KPA: f64 = 22_064.0;
/// Temperature range of region 4 in degrees Celsius (273.15 K .. 647.096 K).
pub const T_RANGE_C: (f64, f64) = (0.0, 373.946);

const KELVIN: f64 = 273.15;

/// Saturation temperature in degrees Celsius of steam at `p_kpa` kPa **absolute**.
///
/// `None` for a pressure outside region 4 (below the triple point, above the critical
/// point) or not finite: a sensor value the verdict cannot use, never a panic.
pub fn t_sat_c(p_kpa: f64) -> Option<f64> {
    if !p_kpa.is_finite() || !(P_MIN_KPA..=P_MAX_KPA).contains(&p_kpa) {
        return None;
    }
    let beta = (p_kpa / 1000.0).powf(0.25);
    let e = beta * beta + N[2] * beta + N[5];
    let f = N[0] * beta * beta + N[3] * beta + N[6];
    let g = N[1] * beta * beta + N[4] * beta + N[7];
    let d = 2.0 * g / (-f - (f * f - 4.0 * e * g).sqrt());
    let t_k = (N[9] + d - ((N[9] + d).powi(2) - 4.0 * (N[8] + N[9] * d)).sqrt()) / 2.0;
    let t_c = t_k - KELVIN;
    t_c.is_finite().then_some(t_c)
}

/// Saturation pressure in kPa absolute of water at `temp_c` degrees Celsius.
///
/// `None` outside region 4 (0 .. 373.946 C) or for a non-finite temperature.
pub fn p_sat_kpa(temp_c: f64) -> Option<f64> {
    if !temp_c.is_finite() || !(T_RANGE_C.0..=T_RANGE_C.1).contains(&temp_c) {
        return None;
    }
    let t = temp_c + KELVIN;
    let theta = t + N[8] / (t - N[9]);
    let a = theta * theta + N[0] * theta + N[1];
    let b = N[2] * theta * theta + N[3] * theta + N[4];
    let c = N[5] * theta * theta + N[6] * theta + N[7];
    let p_mpa = (2.0 * c / (-b + (b * b - 4.0 * a * c).sqrt())).powi(4);
    let p = p_mpa * 1000.0;
    p.is_finite().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The saturated-steam table next to this file (`saturated_steam.csv`, computed
    /// independently with IF97; see docs/standards.md).
    const TABLE: &str = include_str!("saturated_steam.csv");

    fn rows() -> Vec<(f64, f64)> {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("temp_c"))
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut f = l.split(',').map(|x| x.trim().parse::<f64>().unwrap());
                (f.next().unwrap(), f.next().unwrap())
            })
            .collect()
    }

    #[test]
    fn saturation_temperature_is_within_a_tenth_of_a_kelvin_of_every_table_row() {
        let rows = rows();
        assert!(rows.len() >= 80, "the whole table: {} rows", rows.len());
        let mut worst: f64 = 0.0;
        for (t, p) in &rows {
            let got = t_sat_c(*p).unwrap();
            worst = worst.max((got - t).abs());
            assert!((got - t).abs() < 0.1, "T_s({p} kPa) = {got}, table {t}");
        }
        // The table is printed to 3 decimals of kPa: the fit is far tighter than 0.1 K.
        assert!(worst < 0.01, "worst {worst} K");
    }

    #[test]
    fn saturation_pressure_inverts_saturation_temperature_over_the_table() {
        for (t, p) in rows() {
            let got = p_sat_kpa(t).unwrap();
            assert!((got - p).abs() / p < 1e-4, "p_s({t}) = {got}, table {p}");
            assert!((t_sat_c(got).unwrap() - t).abs() < 1e-9);
        }
    }

    #[test]
    fn reproduces_the_if97_verification_values() {
        // IAPWS R7-97 Table 35: T_s(0.1 MPa) = 372.755919 K, T_s(1 MPa) = 453.035632 K,
        // p_s(300 K) = 0.353658941e-2 MPa, p_s(500 K) = 2.63889776 MPa.
        assert!((t_sat_c(100.0).unwrap() + KELVIN - 372.755_919).abs() < 1e-6);
        assert!((t_sat_c(1000.0).unwrap() + KELVIN - 453.035_632).abs() < 1e-6);
        assert!((p_sat_kpa(300.0 - KELVIN).unwrap() - 3.536_589_41).abs() < 1e-8);
        assert!((p_sat_kpa(500.0 - KELVIN).unwrap() - 2_638.897_76).abs() < 1e-5);
    }

    #[test]
    fn out_of_range_and_non_finite_pressures_give_none_not_a_panic() {
        for p in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            0.0,
            0.5,
            30_000.0,
        ] {
            assert_eq!(t_sat_c(p), None, "{p}");
        }
        for t in [f64::NAN, f64::INFINITY, -5.0, 400.0] {
            assert_eq!(p_sat_kpa(t), None, "{t}");
        }
        assert!(t_sat_c(P_MIN_KPA).is_some() && t_sat_c(P_MAX_KPA).is_some());
    }
}
