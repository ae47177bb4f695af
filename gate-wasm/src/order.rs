//! Stable sorting through one shared, non-generic sort.
//!
//! Every `sort_by` on a new element type or with a new closure puts another copy of the standard
//! library's stable sort (about 4 KB) into the WebAssembly module, whose size is budgeted. So the
//! engine sorts index lists with a `dyn` comparator — one copy of the sort — and moves its items
//! into that order. The result is exactly what `slice::sort_by` with the same comparator gives.

use std::cmp::Ordering;

/// `items` in the stable order of `compare`: equal items keep their relative order.
pub(crate) fn sorted_by<T>(items: Vec<T>, compare: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let order = stable_order(items.len(), &|a, b| match (items.get(a), items.get(b)) {
        (Some(a), Some(b)) => compare(a, b),
        _ => Ordering::Equal,
    });
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

/// `0..len` stably sorted by `compare`; the single instance of the standard sort.
#[inline(never)]
fn stable_order(len: usize, compare: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| compare(a, b));
    order
}

#[cfg(test)]
mod tests {
    use super::sorted_by;

    #[test]
    fn sorts_stably_like_the_standard_sort() {
        let items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        let mut expected = items.clone();
        expected.sort_by_key(|&(k, _)| k);
        assert_eq!(sorted_by(items, |a, b| a.0.cmp(&b.0)), expected);
        assert_eq!(sorted_by(Vec::<u8>::new(), u8::cmp), Vec::<u8>::new());
    }
}
