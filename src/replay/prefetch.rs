//! Software prefetch of the next connection's tables while one connection
//! is replayed. An evaluation touches each connection's tables once, far
//! apart in memory, so every first touch waited on main memory; the
//! processor's own prefetchers follow a stream but not the jumps between a
//! connection's many small tables. The lines are asked for a few per
//! segment, spread over the current connection, so that they arrive while
//! it computes and never crowd out what it reads itself. The stored values
//! a walk reads are known only once the gates have decided; those are asked
//! for then, all at once (`prefetch_slice`).

/// Bytes per cache line.
const LINE: usize = 64;

/// Memory ranges to bring into the second-level cache a few lines at a
/// time.
#[derive(Debug, Clone, Default)]
pub(super) struct Prefetch {
    /// Start (rounded down to a line) and end address of each range.
    ranges: Vec<(usize, usize)>,
    /// The next range to start, and the lines left of the current one.
    at: usize,
    next: usize,
    end: usize,
    per_step: usize,
}

impl Prefetch {
    pub(super) fn clear(&mut self) {
        self.ranges.clear();
        (self.at, self.next, self.end, self.per_step) = (0, 0, 0, 0);
    }

    pub(super) fn add<T>(&mut self, values: &[T]) {
        let bytes = std::mem::size_of_val(values);
        if bytes > 0 {
            let start = values.as_ptr() as usize;
            self.ranges.push((start & !(LINE - 1), start + bytes));
        }
    }

    /// Spreads the lines of the ranges added so far over `steps` calls of
    /// `step`.
    pub(super) fn pace(&mut self, steps: usize) {
        let lines: usize = self
            .ranges
            .iter()
            .map(|&(start, end)| (end - start).div_ceil(LINE))
            .sum();
        self.per_step = lines.div_ceil(steps.max(1));
    }

    /// Asks for the next lines.
    #[inline(always)]
    pub(super) fn step(&mut self) {
        self.issue(prefetch_line);
    }

    /// Hands the address of each of the next lines to `touch`.
    #[inline(always)]
    fn issue(&mut self, mut touch: impl FnMut(usize)) {
        let mut budget = self.per_step;
        while budget > 0 {
            if self.next >= self.end {
                let Some(&(start, end)) = self.ranges.get(self.at) else {
                    return;
                };
                (self.at, self.next, self.end) = (self.at + 1, start, end);
            }
            let lines = budget.min((self.end - self.next).div_ceil(LINE));
            for k in 0..lines {
                touch(self.next + k * LINE);
            }
            self.next += lines * LINE;
            budget -= lines;
        }
    }
}

/// Asks for every line of `values` at once: for a table about to be read
/// whose lines no paced step has asked for.
#[inline(always)]
pub(super) fn prefetch_slice<T>(values: &[T]) {
    lines_of(values).for_each(prefetch_line);
}

/// The address of each line `values` spans.
#[inline(always)]
fn lines_of<T>(values: &[T]) -> std::iter::StepBy<std::ops::Range<usize>> {
    let start = values.as_ptr() as usize;
    let end = start + std::mem::size_of_val(values);
    let first = if end > start { start & !(LINE - 1) } else { end };
    (first..end).step_by(LINE)
}

#[inline(always)]
fn prefetch_line(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults, whatever the address;
    // every address here lies in a live slice.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        _mm_prefetch::<_MM_HINT_T1>(address as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_every_range_is_asked_for_once_within_the_paced_steps() {
        let (a, b, c) = (vec![1.0f64; 37], vec![2u32; 300], vec![3u8; 1]);
        // A slice that starts mid-line.
        let d = &b[5..97];
        let mut p = Prefetch::default();
        for _ in 0..2 {
            p.clear();
            p.add(&a);
            p.add(&b);
            p.add(&c[..0]);
            p.add(&c);
            p.add(d);
            let steps = 7;
            p.pace(steps);
            let mut seen: Vec<usize> = Vec::new();
            for _ in 0..steps {
                let before = seen.len();
                p.issue(|x| seen.push(x));
                assert!(seen.len() - before <= p.per_step);
            }
            let last = seen.len();
            p.issue(|x| seen.push(x));
            assert_eq!(seen.len(), last, "nothing is left after the paced steps");
            let lines = |bytes: usize, start: usize| {
                let first = start & !(LINE - 1);
                (first..start + bytes).step_by(LINE).collect::<Vec<_>>()
            };
            let mut expected: Vec<usize> = Vec::new();
            expected.extend(lines(8 * a.len(), a.as_ptr() as usize));
            expected.extend(lines(4 * b.len(), b.as_ptr() as usize));
            expected.extend(lines(1, c.as_ptr() as usize));
            expected.extend(lines(4 * d.len(), d.as_ptr() as usize));
            assert_eq!(seen, expected);
        }
    }

    #[test]
    fn a_slice_is_asked_for_line_by_line_from_the_line_it_starts_in() {
        let v = vec![0u32; 100];
        for (from, to) in [(0, 100), (5, 37), (16, 17), (3, 3)] {
            let part = &v[from..to];
            let lines: Vec<usize> = lines_of(part).collect();
            let (start, end) = (part.as_ptr() as usize, part.as_ptr() as usize + 4 * part.len());
            if part.is_empty() {
                assert!(lines.is_empty());
                continue;
            }
            assert_eq!(lines[0], start - start % LINE, "the first line holds the first value");
            assert!(lines.windows(2).all(|w| w[1] == w[0] + LINE));
            assert!(*lines.last().unwrap() < end && lines.last().unwrap() + LINE >= end);
        }
    }

    #[test]
    fn an_empty_prefetch_asks_for_nothing() {
        let mut p = Prefetch::default();
        p.pace(3);
        let mut n = 0;
        p.issue(|_| n += 1);
        assert_eq!(n, 0);
    }
}
