//! Patterns where `*` matches any run of characters (none included) and every other
//! character stands for itself: ARM action patterns and tenant scopes. Greedy with
//! backtracking to the last `*`, so it never recurses.

/// `text` matches `pattern` exactly (case-sensitive).
pub fn matches(pattern: &str, text: &str) -> bool {
    matches_with(pattern.as_bytes(), text.as_bytes(), |a, b| a == b)
}

/// `text` matches `pattern`, ASCII letters compared case-insensitively (as ARM compares
/// actions).
pub fn matches_ignore_ascii_case(pattern: &str, text: &str) -> bool {
    matches_with(pattern.as_bytes(), text.as_bytes(), |a, b| {
        a.eq_ignore_ascii_case(&b)
    })
}

fn matches_with(pattern: &[u8], text: &[u8], same: impl Fn(u8, u8) -> bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && same(pattern[p], text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            // Let the last `*` swallow one more character and try again from there.
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run() {
        assert!(matches("a/*/read", "a/b/c/read"));
        assert!(!matches("a/*/read", "a/b/c/write"));
        assert!(matches("*", ""));
        assert!(matches("x*y*z", "xaybz"));
        assert!(!matches("x", "xy"));
        assert!(!matches("A", "a"));
        assert!(matches_ignore_ascii_case(
            "Microsoft.ApiCenter/*",
            "microsoft.apicenter/services/read"
        ));
        assert!(!matches_ignore_ascii_case("*/read", "x/write"));
    }
}
