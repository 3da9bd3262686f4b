//! Latency samples and the figures made from them: nearest-rank
//! percentiles in milliseconds, and operations per second.

use std::time::Duration;

/// Every latency of one measurement, in microseconds. A run of seconds holds
/// at most a few hundred thousand: keeping them all and sorting at the end
/// is exact, where a histogram would round.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    micros: Vec<u64>,
}

impl Samples {
    pub fn record(&mut self, elapsed: Duration) {
        self.micros.push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn extend(&mut self, other: Samples) {
        self.micros.extend(other.micros);
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// Sorted, for [`Sorted::percentile`].
    pub fn sorted(mut self) -> Sorted {
        self.micros.sort_unstable();
        Sorted { micros: self.micros }
    }
}

pub struct Sorted {
    micros: Vec<u64>,
}

impl Sorted {
    /// The nearest-rank percentile (`q` in 0..=1) in milliseconds: the
    /// smallest sample with at least `q` of all samples at or below it.
    /// 0 when there are no samples (the run's `errors` say why).
    pub fn percentile(&self, q: f64) -> f64 {
        match nearest_rank(self.micros.len(), q) {
            Some(rank) => self.micros[rank - 1] as f64 / 1000.0,
            None => 0.0,
        }
    }

    pub fn max(&self) -> f64 {
        self.micros.last().map_or(0.0, |&us| us as f64 / 1000.0)
    }
}

/// The 1-based rank of the `q` percentile among `n` sorted samples.
fn nearest_rank(n: usize, q: f64) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let rank = (q * n as f64).ceil() as usize;
    Some(rank.clamp(1, n))
}

/// Operations per second; 0 for an empty interval rather than infinity.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// `a / b`, or 0 when `b` measured nothing (the errors say why).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(millis: impl IntoIterator<Item = u64>) -> Sorted {
        let mut samples = Samples::default();
        for ms in millis {
            samples.record(Duration::from_millis(ms));
        }
        samples.sorted()
    }

    #[test]
    fn percentiles_are_the_nearest_rank() {
        // Recorded out of order: sorting is the recorder's job.
        let sorted = samples((1..=100).rev());
        assert_eq!(sorted.percentile(0.50), 50.0);
        assert_eq!(sorted.percentile(0.90), 90.0);
        assert_eq!(sorted.percentile(0.99), 99.0);
        assert_eq!(sorted.percentile(1.0), 100.0);
        assert_eq!(sorted.max(), 100.0);
    }

    #[test]
    fn a_percentile_between_ranks_rounds_up_to_a_real_sample() {
        let sorted = samples([10, 20, 30]);
        // 0.5 × 3 = 1.5 → rank 2; no interpolation between samples.
        assert_eq!(sorted.percentile(0.50), 20.0);
        assert_eq!(sorted.percentile(0.99), 30.0);
        assert_eq!(sorted.percentile(0.0), 10.0);
    }

    #[test]
    fn no_samples_give_zero_not_a_panic() {
        let sorted = samples([]);
        assert_eq!((sorted.percentile(0.99), sorted.max()), (0.0, 0.0));
    }

    #[test]
    fn sub_millisecond_latencies_keep_their_fraction() {
        let mut samples = Samples::default();
        samples.record(Duration::from_micros(250));
        assert_eq!(samples.sorted().percentile(0.5), 0.25);
    }
}
