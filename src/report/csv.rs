//! `sites.csv`: one row per site with the numbers of `report.json` and its verdict, and
//! the CSV writing `timeline.csv` shares: the `csv` crate quotes (RFC 4180, only where
//! needed), [`guard`] defuses spreadsheet formulas.

use super::Report;

/// A text cell as written: prefixed with `'` when it begins with `=`, `+`, `-`, `@`, a
/// tab or a carriage return, which a spreadsheet would run as a formula (CSV injection;
/// the OWASP advice). Quoting is the writer's ([`to_csv`]).
pub fn guard(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// Three cells `estimate, low, high` of an interval with `prec` decimals (empty when None).
pub fn iv_cols(i: &Option<crate::evidence::Interval>, prec: usize) -> [String; 3] {
    match i {
        Some(i) => [i.estimate, i.low, i.high].map(|v| format!("{v:.prec$}")),
        None => Default::default(),
    }
}

/// A CSV file of `header` and `rows` (`\n` line ends, quoting only where needed).
pub fn to_csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    w.write_record(header).expect("CSV into memory");
    for r in rows {
        w.write_record(&r).expect("CSV into memory");
    }
    String::from_utf8(w.into_inner().expect("CSV into memory")).expect("UTF-8 cells")
}

/// Renders the per-site table.
pub fn sites_csv(r: &Report) -> String {
    let header = [
        "id",
        "name",
        "status",
        "observed_fraction",
        "observed_fraction_before",
        "observed_fraction_after",
        "before_vehicles",
        "after_vehicles",
        "delta_vehicles",
        "ratio",
        "changed_fraction",
        "error",
        "verdict",
        "remaining_estimate",
        "remaining_low",
        "remaining_high",
        "explanation",
        "flags",
    ];
    let rows = r.sites.iter().map(|s| {
        let ev = s.evidence.as_ref();
        let [re, rl, rh] = iv_cols(&ev.and_then(|e| e.remaining_fraction), 4);
        vec![
            guard(&s.id),
            guard(s.name.as_deref().unwrap_or("")),
            s.status.as_str().to_string(),
            format!("{:.6}", s.observed_fraction),
            format!("{:.6}", s.before.observed_fraction),
            format!("{:.6}", s.after.observed_fraction),
            s.before.vehicles.to_string(),
            s.after.vehicles.to_string(),
            s.delta.vehicles.to_string(),
            s.delta.ratio.map(|x| format!("{x:.6}")).unwrap_or_default(),
            format!("{:.6}", s.changed_fraction),
            guard(s.error.as_deref().unwrap_or("")),
            ev.map_or("", |e| e.verdict.as_str()).to_string(),
            re,
            rl,
            rh,
            guard(ev.map_or("", |e| e.explanation.as_str())),
            guard(&s.flags.join(";")),
        ]
    });
    to_csv(&header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guarded cell as it appears in a line of the file (quoted by the writer when it
    /// holds a comma, quote or newline).
    fn field(s: &str) -> String {
        to_csv(&["x"], [vec![guard(s)]])
            .split_once('\n')
            .map(|(_, row)| row.trim_end_matches('\n').to_string())
            .unwrap_or_default()
    }

    #[test]
    fn quoting() {
        assert_eq!(field("a"), "a");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        // Formula injection is neutralised.
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-2,3"), "\"'-2,3\"");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("a=b"), "a=b");
    }
}
