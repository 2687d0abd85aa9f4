//! Branch-free activations for the hand-written kernels (the training
//! sequence op and the fast decoder): no library calls and no branches, so the
//! loops that use them vectorise (SSE/AVX natively, `simd128` in wasm).

/// `exp` clamps its argument to ±this: `e⁻⁸⁰ ≈ 1.8e-35` keeps `σ` and its
/// products out of the subnormal range, where x86 arithmetic is ~100× slower.
const EXP_LIMIT: f32 = 80.0;

/// `eˣ` without branches or library calls, so the gate loops vectorise: Cephes'
/// `expf` (range reduction by `ln 2` in two parts, degree-6 polynomial), within
/// 2 ulp of `f32::exp` for `|x| ≤` [`EXP_LIMIT`], to which it clamps.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    /// 1.5·2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-EXP_LIMIT, EXP_LIMIT);
    // t = n + 1.5·2²³ holds n in its low mantissa bits; n's float value is t − 1.5·2²³.
    let t = x * LOG2E + ROUND;
    let n_bits = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits((n_bits.wrapping_add(127) as u32) << 23)
}

#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x = 2σ(2x) − 1` (absolute error below 1e-7).
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free `exp`, `σ` and `tanh` against f64 references over the
    /// clamped range (relative 4e-7 for exp, absolute 2e-7 for σ and tanh), and
    /// NaN stays NaN so non-finite losses are still caught.
    #[test]
    fn fast_activations_match_f64() {
        let mut worst = (0f64, 0f64, 0f64);
        for k in -800_000..=800_000 {
            let x = k as f32 * 1e-4; // -80 … 80
            let e = (x as f64).exp();
            worst.0 = worst.0.max(((exp(x) as f64) - e).abs() / e);
            worst.1 = worst
                .1
                .max((sigmoid(x) as f64 - 1.0 / (1.0 + (-x as f64).exp())).abs());
            worst.2 = worst.2.max((tanh(x) as f64 - (x as f64).tanh()).abs());
        }
        assert!(worst.0 < 4e-7, "exp: worst relative error {}", worst.0);
        assert!(worst.1 < 2e-7, "sigmoid: worst absolute error {}", worst.1);
        assert!(worst.2 < 2e-7, "tanh: worst absolute error {}", worst.2);
        assert!(exp(f32::NAN).is_nan() && sigmoid(f32::NAN).is_nan());
        assert!(exp(-1e6) > 0.0 && exp(1e6).is_finite());
    }
}
