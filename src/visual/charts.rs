//! Time-series charts as inline SVG, drawn with `plotters`' SVG backend: the 90 %
//! interval as a shaded band, the estimate as a line, the raw count as squares, and the
//! verdict of each date as a coloured marker (a ring when the decrease is confirmed).
//! Text is SVG `<text>` rendered by the browser, so no font is embedded or needed.

use plotters::prelude::*;

use crate::dates::day_number;
use crate::evidence::Verdict;
use crate::timeline::chart::ChartPoint;
use crate::timeline::Confirmation;

/// Colour of a verdict's marker (matching the page's verdict colours).
pub fn verdict_colour(v: Option<Verdict>) -> RGBColor {
    match v {
        None => RGBColor(90, 90, 90),
        Some(Verdict::Withdrawal) => RGBColor(26, 127, 55),
        Some(Verdict::PartialWithdrawal) => RGBColor(106, 143, 0),
        Some(Verdict::NoChange) => RGBColor(120, 120, 120),
        Some(Verdict::Buildup) => RGBColor(198, 40, 40),
        Some(Verdict::Redeployment) => RGBColor(142, 68, 173),
        Some(Verdict::Inconclusive) => RGBColor(178, 106, 0),
    }
}

/// An SVG chart (a complete `<svg>` element) of `points` against their dates.
/// `y_max` fixes the top of the axis (None: from the data). Dates that do not parse
/// are left out.
pub fn series_svg(title: &str, y_label: &str, points: &[ChartPoint], y_max: Option<f64>) -> String {
    let dated: Vec<(i64, &ChartPoint)> = points
        .iter()
        .filter_map(|p| day_number(&p.date).map(|d| (d, p)))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 300)).into_drawing_area();
        let _ = draw(&root, title, y_label, &dated, y_max);
        let _ = root.present();
    }
    svg
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw(
    root: &Area,
    title: &str,
    y_label: &str,
    dated: &[(i64, &ChartPoint)],
    y_max: Option<f64>,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let (x0, x1) = match (dated.first(), dated.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0 - 2, b.0 + 2),
        (Some(a), _) => (a.0 - 5, a.0 + 5),
        _ => (0, 10),
    };
    let data_max = dated
        .iter()
        .flat_map(|(_, p)| [p.value.map(|v| v.high), p.raw])
        .flatten()
        .fold(1.0f64, f64::max);
    let top = y_max.unwrap_or(data_max * 1.1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .margin_right(40)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(
            (x0..x1).with_key_points(dated.iter().map(|(d, _)| *d).collect()),
            0.0..top,
        )?;
    let labels: std::collections::BTreeMap<i64, String> =
        dated.iter().map(|(d, p)| (*d, p.date.clone())).collect();
    chart
        .configure_mesh()
        .y_desc(y_label)
        .x_labels(dated.len().max(2))
        .x_label_formatter(&|d| labels.get(d).cloned().unwrap_or_default())
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    // The interval band over consecutive observed dates.
    let observed: Vec<(i64, crate::evidence::Interval)> = dated
        .iter()
        .filter_map(|(d, p)| p.value.map(|v| (*d, v)))
        .collect();
    if observed.len() > 1 {
        let mut band: Vec<(i64, f64)> = observed.iter().map(|(d, v)| (*d, v.high)).collect();
        band.extend(observed.iter().rev().map(|(d, v)| (*d, v.low)));
        chart.draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.15))))?;
        chart.draw_series(LineSeries::new(
            observed.iter().map(|(d, v)| (*d, v.estimate)),
            &BLUE,
        ))?;
    }
    for (d, v) in &observed {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(*d, v.low), (*d, v.high)],
            BLUE.mix(0.6),
        )))?;
    }
    chart.draw_series(dated.iter().filter_map(|(d, p)| {
        p.raw
            .map(|r| Rectangle::new([(*d, r), (*d, r)], BLACK.stroke_width(5)))
    }))?;
    for (d, p) in dated {
        let y = p.value.map_or(0.0, |v| v.estimate);
        let c = verdict_colour(p.verdict);
        chart.draw_series(std::iter::once(Circle::new((*d, y), 5, c.filled())))?;
        if p.withdrawal == Some(Confirmation::Confirmed) {
            chart.draw_series(std::iter::once(Circle::new((*d, y), 9, c.stroke_width(2))))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Interval;

    fn pt(date: &str, est: f64, v: Option<Verdict>) -> ChartPoint {
        ChartPoint {
            date: date.into(),
            value: Some(Interval {
                estimate: est,
                low: est - 1.0,
                high: est + 1.0,
            }),
            raw: Some(est),
            verdict: v,
            withdrawal: None,
        }
    }

    #[test]
    fn a_chart_is_one_svg_element_with_its_title_and_dates() {
        let svg = series_svg(
            "site <a> & b",
            "vehicles",
            &[
                pt("2026-01-01", 10.0, None),
                pt("2026-02-01", 3.0, Some(Verdict::Withdrawal)),
            ],
            None,
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("2026-02-01"));
        assert!(svg.contains("site &lt;a&gt; &amp; b"), "text is escaped");
        assert!(!svg.contains("<a>"));
        assert!(
            svg.contains("<polygon") || svg.contains("<path"),
            "the interval band is drawn"
        );
    }
}
