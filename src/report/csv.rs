//! `sites.csv`: one row per site with the numbers of `report.json` and its verdict
//! (RFC 4180 quoting).

use super::Report;

/// A text cell: quoted when it holds a comma, quote or newline (RFC 4180), and prefixed
/// with `'` when it begins with `=`, `+`, `-`, `@`, a tab or a carriage return, which a
/// spreadsheet would run as a formula (CSV injection; the OWASP advice).
pub fn field(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        return field(&format!("'{s}"));
    }
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Three cells `estimate,low,high` of an interval with `prec` decimals (empty when None).
pub fn iv_cols(i: &Option<crate::evidence::Interval>, prec: usize) -> String {
    match i {
        Some(i) => format!("{:.p$},{:.p$},{:.p$}", i.estimate, i.low, i.high, p = prec),
        None => ",,".into(),
    }
}

/// Renders the per-site table.
pub fn sites_csv(r: &Report) -> String {
    let mut out = String::from(
        "id,name,status,observed_fraction,observed_fraction_before,observed_fraction_after,\
         before_vehicles,after_vehicles,delta_vehicles,ratio,changed_fraction,error,\
         verdict,remaining_estimate,remaining_low,remaining_high,explanation,flags\n",
    );
    for s in &r.sites {
        let ratio = s.delta.ratio.map(|x| format!("{x:.6}")).unwrap_or_default();
        let ev = s.evidence.as_ref();
        let remaining = iv_cols(&ev.and_then(|e| e.remaining_fraction), 4);
        out.push_str(&format!(
            "{},{},{},{:.6},{:.6},{:.6},{},{},{},{},{:.6},{},{},{},{},{}\n",
            field(&s.id),
            field(s.name.as_deref().unwrap_or("")),
            s.status.as_str(),
            s.observed_fraction,
            s.before.observed_fraction,
            s.after.observed_fraction,
            s.before.vehicles,
            s.after.vehicles,
            s.delta.vehicles,
            ratio,
            s.changed_fraction,
            field(s.error.as_deref().unwrap_or("")),
            ev.map_or("", |e| e.verdict.as_str()),
            remaining,
            field(ev.map_or("", |e| e.explanation.as_str())),
            field(&s.flags.join(";")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
