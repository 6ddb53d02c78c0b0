//! Saturated steam, IAPWS-IF97 region 4 (domain-reference.md D.5): the saturation pressure of a
//! temperature and its inverse. The autoclave model uses it so that chamber pressure during the
//! hold is the saturation pressure of the chamber temperature, as in a real air-free chamber.

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

/// Saturation pressure in kPa (absolute) of water at `temp_c` degrees Celsius.
///
/// Valid from 0 to 373.946 C (the IF97 region 4 range); outside it the result is meaningless.
pub fn p_sat_kpa(temp_c: f64) -> f64 {
    let t = temp_c + 273.15;
    let theta = t + N[8] / (t - N[9]);
    let a = theta * theta + N[0] * theta + N[1];
    let b = N[2] * theta * theta + N[3] * theta + N[4];
    let c = N[5] * theta * theta + N[6] * theta + N[7];
    let p_mpa = (2.0 * c / (-b + (b * b - 4.0 * a * c).sqrt())).powi(4);
    p_mpa * 1000.0
}

/// Saturation temperature in degrees Celsius of steam at `p_kpa` kPa absolute.
///
/// Valid from 0.611 kPa to 22.064 MPa; outside it the result is meaningless.
pub fn t_sat_c(p_kpa: f64) -> f64 {
    let beta = (p_kpa / 1000.0).powf(0.25);
    let e = beta * beta + N[2] * beta + N[5];
    let f = N[0] * beta * beta + N[3] * beta + N[6];
    let g = N[1] * beta * beta + N[4] * beta + N[7];
    let d = 2.0 * g / (-f - (f * f - 4.0 * e * g).sqrt());
    let t_k = (N[9] + d - ((N[9] + d).powi(2) - 4.0 * (N[8] + N[9] * d)).sqrt()) / 2.0;
    t_k - 273.15
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of /work/shared/testdata/saturated_steam.csv (temp_c, p_abs_kpa).
    const TABLE: [(f64, f64); 6] = [
        (100.0, 101.418),
        (121.0, 205.039),
        (132.0, 286.823),
        (134.0, 304.199),
        (135.0, 313.20),
        (137.0, 331.85),
    ];

    #[test]
    fn saturation_pressure_matches_the_reference_table() {
        for (t, p) in TABLE {
            assert!((p_sat_kpa(t) - p).abs() < 0.01, "{t} C: {}", p_sat_kpa(t));
        }
    }

    #[test]
    fn saturation_temperature_inverts_saturation_pressure() {
        for (t, p) in TABLE {
            assert!((t_sat_c(p) - t).abs() < 0.005, "{p} kPa: {}", t_sat_c(p));
        }
    }

    #[test]
    fn the_if97_verification_values_are_reproduced() {
        assert!((p_sat_kpa(300.0 - 273.15) - 3.536_589_41).abs() < 1e-6);
        assert!((p_sat_kpa(500.0 - 273.15) - 2_638.897_76).abs() < 1e-3);
        assert!((t_sat_c(100.0) + 273.15 - 372.755_919).abs() < 1e-5);
        assert!((t_sat_c(1000.0) + 273.15 - 453.035_632).abs() < 1e-5);
    }
}
