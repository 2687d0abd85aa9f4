//! The seedable random number generator every stochastic step uses.
//!
//! ChaCha8 gives the same stream on every platform, so the same seed draws the
//! same sketch natively and in the browser. The generator is a plain value the
//! caller owns (part of a generation state), never a global.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A seedable, platform-independent random number generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SketchRng(ChaCha8Rng);

impl SketchRng {
    /// A generator whose stream depends only on `seed`.
    pub fn new(seed: u64) -> SketchRng {
        SketchRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f32 {
        self.0.random::<f32>()
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform_range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal N(0, 1).
    pub fn normal(&mut self) -> f32 {
        StandardNormal.sample(&mut self.0)
    }

    /// A uniformly random index below `n` (`n > 0`).
    pub fn index(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    /// Shuffles a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }

    /// The generator's position in its stream, for checkpoints.
    pub fn word_pos(&self) -> u128 {
        self.0.get_word_pos()
    }

    /// The seed the generator was made from (ChaCha key), for checkpoints.
    pub fn seed_bytes(&self) -> [u8; 32] {
        self.0.get_seed()
    }

    /// Rebuilds a generator from [`SketchRng::seed_bytes`] and [`SketchRng::word_pos`].
    pub fn restore(seed: [u8; 32], word_pos: u128) -> SketchRng {
        let mut r = ChaCha8Rng::from_seed(seed);
        r.set_word_pos(word_pos);
        SketchRng(r)
    }
}
