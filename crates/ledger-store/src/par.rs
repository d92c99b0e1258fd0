//! A parallel map for the pure, per-item work of a batch (decoding
//! records, loading and encoding accounts).

/// Below this many items a batch is not worth splitting across threads.
const PARALLEL_MIN: usize = 256;

/// `f` over `items`, in order, split across the machine's cores. `f` must
/// not depend on which thread runs it, so the result is the same whatever
/// the split.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || items.len() < PARALLEL_MIN {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let f = &f;
        let rest: Vec<_> = items[chunk..]
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = items[..chunk].iter().map(f).collect();
        for h in rest {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::par_map;

    #[test]
    fn keeps_order_at_every_size() {
        for n in [0, 1, 255, 256, 257, 1000, 4097] {
            let items: Vec<u64> = (0..n).collect();
            let got = par_map(&items, |x| x * 3 + 1);
            let want: Vec<u64> = items.iter().map(|x| x * 3 + 1).collect();
            assert_eq!(got, want, "n = {n}");
        }
    }
}
