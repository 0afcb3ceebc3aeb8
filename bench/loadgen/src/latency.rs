//! One-way latency histogram: 1 us buckets up to 100 ms, then one overflow bucket.
const BUCKETS: usize = 100_000;

pub struct Histogram {
    counts: Vec<u64>,
    over: u64,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS], over: 0, max_ns: 0 }
    }
}

impl Histogram {
    pub fn record(&mut self, ns: u64) {
        self.max_ns = self.max_ns.max(ns);
        match self.counts.get_mut((ns / 1000) as usize) {
            Some(c) => *c += 1,
            None => self.over += 1,
        }
    }

    pub fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.over += o.over;
        self.max_ns = self.max_ns.max(o.max_ns);
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.over
    }

    /// Upper edge of the bucket holding quantile `q`, in microseconds
    /// (None when empty; the maximum when in the overflow bucket).
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some((i + 1) as f64);
            }
        }
        Some(self.max_ns as f64 / 1000.0)
    }

    pub fn max_us(&self) -> f64 {
        self.max_ns as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for us in 1..=100u64 {
            h.record(us * 1000 - 500);
        }
        assert_eq!(h.quantile_us(0.5), Some(50.0));
        assert_eq!(h.quantile_us(0.99), Some(99.0));
        h.record(200_000_000);
        assert_eq!(h.max_us(), 200_000.0);
        assert_eq!(h.total(), 101);
    }
}
