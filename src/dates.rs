//! Acquisition dates: a TIFF `DateTime` (`YYYY:MM:DD HH:MM:SS`) or an ISO date reduced
//! to a real calendar date `YYYY-MM-DD` (proleptic Gregorian, ISO 8601), shared by the
//! pipeline, the catalogue and batch plans (a leaf module: it imports nothing of
//! theirs).

/// Turns TIFF `YYYY:MM:DD HH:MM:SS` into `YYYY-MM-DD`; passes ISO dates through. None
/// unless it is a real calendar date (`2026-02-30` and `2026-13-01` are not; proleptic
/// Gregorian leap years).
pub fn normalise_date(s: &str) -> Option<String> {
    let d = s.trim().get(..10)?;
    let d = d.replace(':', "-");
    let ok = d.len() == 10
        && d.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    (ok && is_calendar_date(&d)).then_some(d)
}

fn is_calendar_date(d: &str) -> bool {
    let num = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
    let (y, m, day) = (num(0..4), num(5..7), num(8..10));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_normalise() {
        assert_eq!(
            normalise_date("2026:03:02 10:30:00").as_deref(),
            Some("2026-03-02")
        );
        assert_eq!(normalise_date("2026-03-02").as_deref(), Some("2026-03-02"));
        assert_eq!(normalise_date("yesterday"), None);
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2025-02-29",
            "1900-02-29",
            "2026-04-31",
        ] {
            assert_eq!(normalise_date(bad), None, "{bad}");
        }
        for good in ["2024-02-29", "2000-02-29", "2026-12-31"] {
            assert_eq!(normalise_date(good).as_deref(), Some(good));
        }
    }
}
