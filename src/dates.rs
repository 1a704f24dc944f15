//! Acquisition dates: a TIFF `DateTime` (`YYYY:MM:DD HH:MM:SS`) or an ISO date reduced
//! to a real calendar date `YYYY-MM-DD` (proleptic Gregorian, ISO 8601), shared by the
//! pipeline, the catalogue and batch plans (a leaf module: it imports nothing of
//! theirs), and day numbers for time axes. The calendar (month lengths, leap years,
//! day counts) is `jiff`'s; only the two text forms are handled here.

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
    let num = |r: std::ops::Range<usize>| d[r].parse::<i16>().unwrap_or(0);
    let (y, m, day) = (num(0..4), num(5..7), num(8..10));
    jiff::civil::Date::new(y, m as i8, day as i8).is_ok()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian), for placing
/// dates on a time axis; None unless it is a real calendar date.
pub fn day_number(date: &str) -> Option<i64> {
    let d: jiff::civil::Date = date.get(..10)?.parse().ok()?;
    let span = d.since(jiff::civil::date(1970, 1, 1)).ok()?;
    Some(i64::from(span.get_days()))
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

    #[test]
    fn day_numbers() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11017));
        assert_eq!(day_number("1969-12-31"), Some(-1));
        assert_eq!(
            day_number("2026-04-14").unwrap() - day_number("2026-03-02").unwrap(),
            43
        );
        assert_eq!(day_number("bad"), None);
        assert_eq!(day_number("2026-02-30"), None);
    }
}
