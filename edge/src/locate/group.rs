//! Reading order: digits grouped into numbers, numbers into lines of writing, left to right.

use super::Blob;

/// Widest gap between two digits of one number, over the digit height. People leave a space
/// about a digit wide between numbers and write a number's digits closer than half a digit
/// height; a narrow "1" between its neighbours leaves a wider gap between their ink, up to
/// about 0.7 of the height.
pub(super) const NUMBER_GAP: f32 = 0.7;

/// Groups digits into numbers by linking each digit to its nearest right-hand neighbour on
/// the same line of writing (vertical overlap, a gap under [`NUMBER_GAP`]); links that are
/// mutual chain into numbers, so slanted lines and uneven baselines keep their numbers whole.
/// Numbers are then ordered line by line, left to right.
pub(crate) fn group(digits: &[Blob]) -> Vec<Vec<usize>> {
    let n = digits.len();
    let successor = |i: usize| -> Option<usize> {
        let a = digits[i].rect;
        (0..n)
            .filter(|&j| j != i)
            .filter_map(|j| {
                let b = digits[j].rect;
                let h = a.h.max(b.h) as f32;
                let gap = b.x as f32 - (a.x + a.w) as f32;
                let overlap = (a.y + a.h).min(b.y + b.h) as f32 - a.y.max(b.y) as f32;
                let starts_right = b.x as f32 + b.w as f32 / 2.0 > a.x as f32 + a.w as f32;
                (starts_right
                    && gap <= NUMBER_GAP * h
                    && gap >= -0.3 * h
                    && overlap >= 0.4 * a.h.min(b.h) as f32)
                    .then_some((gap, j))
            })
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, j)| j)
    };
    let next: Vec<Option<usize>> = (0..n).map(successor).collect();
    let mut prev: Vec<Option<usize>> = vec![None; n];
    for (i, s) in next.iter().enumerate() {
        if let Some(j) = *s {
            // Keep the closer of two digits claiming the same successor.
            let closer = prev[j].is_none_or(|k| digits[i].rect.x > digits[k].rect.x);
            if closer {
                prev[j] = Some(i);
            }
        }
    }
    let mut numbers: Vec<Vec<usize>> = Vec::new();
    for start in (0..n).filter(|&i| prev[i].is_none()) {
        let mut chain = vec![start];
        let mut at = start;
        while let Some(j) = next[at].filter(|&j| prev[j] == Some(at)) {
            chain.push(j);
            at = j;
        }
        numbers.push(chain);
    }
    // Reading order: lines by vertical centre (half a digit height apart), then left to right.
    let mut heights: Vec<u32> = digits.iter().map(|d| d.rect.h).collect();
    heights.sort_unstable();
    let typical = heights.get(n / 2).copied().unwrap_or(1) as f32;
    let key = |num: &Vec<usize>| {
        let r = digits[num[0]].rect;
        (r.cy(), r.x)
    };
    numbers.sort_by(|a, b| key(a).0.total_cmp(&key(b).0));
    let mut lines: Vec<Vec<Vec<usize>>> = Vec::new();
    for num in numbers {
        let cy = key(&num).0;
        match lines.last_mut() {
            Some(line) if (cy - key(&line[0]).0).abs() <= 0.5 * typical => line.push(num),
            _ => lines.push(vec![num]),
        }
    }
    lines
        .into_iter()
        .flat_map(|mut line| {
            line.sort_by_key(|num| key(num).1);
            line
        })
        .collect()
}
