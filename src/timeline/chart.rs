//! PNG charts of a timeline: per site, the vehicle count per date with its 90 % interval
//! as a band, the counted detections as squares and the verdict of each date as a
//! coloured marker (letter under it: C confirmed, P pending, X not sustained); overall,
//! the withdrawal-evidence score with its interval. Drawn on an RGB raster with a
//! built-in bitmap font, dates placed by their day number.

use image::{Rgb, RgbImage};

use super::font::{draw_text, text_width};
use super::{Confirmation, OverallPoint, SiteSeries};
use crate::dates::day_number;
use crate::evidence::{Interval, Verdict};

const W: u32 = 900;
const H: u32 = 420;
const LEFT: i64 = 70;
const RIGHT: i64 = 30;
const TOP: i64 = 70;
const BOTTOM: i64 = 80;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);
const BAND: Rgb<u8> = Rgb([190, 210, 240]);
const LINE: Rgb<u8> = Rgb([30, 70, 160]);

fn verdict_colour(v: Verdict) -> Rgb<u8> {
    match v {
        Verdict::Withdrawal => Rgb([200, 30, 30]),
        Verdict::PartialWithdrawal => Rgb([240, 140, 20]),
        Verdict::NoChange => Rgb([110, 110, 110]),
        Verdict::Buildup => Rgb([30, 90, 220]),
        Verdict::Redeployment => Rgb([140, 40, 170]),
        Verdict::Inconclusive => Rgb([190, 190, 190]),
    }
}

/// One date of a chart.
pub struct ChartPoint {
    pub date: String,
    pub value: Option<Interval>,
    /// A second value drawn as a square (the raw count).
    pub raw: Option<f64>,
    pub verdict: Option<Verdict>,
    pub withdrawal: Option<Confirmation>,
}

struct Canvas {
    img: RgbImage,
}

impl Canvas {
    fn put(&mut self, x: i64, y: i64, c: Rgb<u8>) {
        if x >= 0 && y >= 0 && (x as u32) < W && (y as u32) < H {
            self.img.put_pixel(x as u32, y as u32, c);
        }
    }
    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb<u8>) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.put(x, y, c);
            }
        }
    }
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>, thick: i64) {
        let n = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
        for k in 0..=n {
            let x = x0 + (x1 - x0) * k / n;
            let y = y0 + (y1 - y0) * k / n;
            self.rect(x - thick / 2, y - thick / 2, x + thick / 2, y + thick / 2, c);
        }
    }
    fn disc(&mut self, cx: i64, cy: i64, r: i64, c: Rgb<u8>, filled: bool) {
        for y in -r..=r {
            for x in -r..=r {
                let d2 = x * x + y * y;
                if d2 <= r * r && (filled || d2 >= (r - 2) * (r - 2)) {
                    self.put(cx + x, cy + y, c);
                }
            }
        }
    }
    fn text(&mut self, s: &str, x: i64, y: i64, scale: u32, c: Rgb<u8>) {
        let mut px = Vec::new();
        draw_text(s, x, y, scale, |a, b| px.push((a, b)));
        for (a, b) in px {
            self.put(a, b, c);
        }
    }
}

/// A step of 1, 2 or 5 x 10^k giving about five ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p)
}

/// Data to pixel positions: dates by day number across, values up.
struct Scale {
    d0: i64,
    span: f64,
    px: (i64, i64),
    ymax: f64,
    py: (i64, i64),
}

impl Scale {
    fn x(&self, d: i64) -> i64 {
        let (px0, px1) = self.px;
        px0 + ((d - self.d0) as f64 / self.span * (px1 - px0) as f64).round() as i64
    }
    fn y(&self, v: f64) -> i64 {
        let (py0, py1) = self.py;
        py0 - ((v / self.ymax).clamp(0.0, 1.05) * (py0 - py1) as f64).round() as i64
    }
}

/// Draws a chart as PNG bytes. `y_max` fixes the axis top (None: from the data).
pub fn render(title: &str, y_label: &str, points: &[ChartPoint], y_max: Option<f64>) -> Vec<u8> {
    let mut cv = Canvas {
        img: RgbImage::from_pixel(W, H, WHITE),
    };
    let days: Vec<i64> = points.iter().map(|p| day_number(&p.date).unwrap_or(0)).collect();
    let (d0, d1) = (
        days.iter().copied().min().unwrap_or(0),
        days.iter().copied().max().unwrap_or(1),
    );
    let data_max = points
        .iter()
        .flat_map(|p| [p.value.map(|v| v.high), p.raw])
        .flatten()
        .fold(0.0f64, f64::max);
    let sc = Scale {
        d0,
        span: (d1 - d0).max(1) as f64,
        px: (LEFT + 40, W as i64 - RIGHT - 40),
        ymax: y_max.unwrap_or_else(|| (data_max * 1.1).max(5.0)),
        py: (H as i64 - BOTTOM, TOP),
    };
    axes(&mut cv, &sc, title, y_label);
    band_and_line(&mut cv, &sc, points, &days);
    markers(&mut cv, &sc, points, &days);
    legend(&mut cv);
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(cv.img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("PNG encodes in memory");
    out
}

/// Grid, axes, tick labels, title.
fn axes(cv: &mut Canvas, sc: &Scale, title: &str, y_label: &str) {
    let (py0, py1) = sc.py;
    let step = tick_step(sc.ymax);
    let mut t = 0.0;
    while t <= sc.ymax + 1e-9 {
        let y = sc.y(t);
        cv.line((LEFT, y), (W as i64 - RIGHT, y), GRID, 1);
        let lab = if step < 1.0 {
            format!("{t:.1}")
        } else {
            format!("{t:.0}")
        };
        cv.text(&lab, LEFT - 8 - text_width(&lab, 1) as i64, y - 3, 1, BLACK);
        t += step;
    }
    cv.line((LEFT, py0), (W as i64 - RIGHT, py0), BLACK, 1);
    cv.line((LEFT, py0), (LEFT, py1 - 10), BLACK, 1);
    cv.text(title, LEFT, 12, 2, BLACK);
    cv.text(y_label, LEFT, 36, 1, BLACK);
}

/// The interval band (interpolated column by column between consecutive dates), each
/// date's interval, and the estimates joined by a line.
fn band_and_line(cv: &mut Canvas, sc: &Scale, points: &[ChartPoint], days: &[i64]) {
    for w in points.windows(2).zip(days.windows(2)) {
        let ([a, b], [da, db]) = w else { continue };
        let (Some(va), Some(vb)) = (a.value, b.value) else {
            continue;
        };
        let (xa, xb) = (sc.x(*da), sc.x(*db));
        for x in xa..=xb {
            let f = if xb > xa {
                (x - xa) as f64 / (xb - xa) as f64
            } else {
                0.0
            };
            let lo = va.low + f * (vb.low - va.low);
            let hi = va.high + f * (vb.high - va.high);
            cv.line((x, sc.y(lo)), (x, sc.y(hi)), BAND, 1);
        }
    }
    for (p, &d) in points.iter().zip(days) {
        if let Some(v) = p.value {
            cv.line((sc.x(d), sc.y(v.low)), (sc.x(d), sc.y(v.high)), LINE, 1);
        }
    }
    for w in points.windows(2).zip(days.windows(2)) {
        let ([a, b], [da, db]) = w else { continue };
        if let (Some(va), Some(vb)) = (a.value, b.value) {
            cv.line(
                (sc.x(*da), sc.y(va.estimate)),
                (sc.x(*db), sc.y(vb.estimate)),
                LINE,
                2,
            );
        }
    }
}

/// Per date: the estimate, the raw count, the verdict marker and letter, the date label.
fn markers(cv: &mut Canvas, sc: &Scale, points: &[ChartPoint], days: &[i64]) {
    let py0 = sc.py.0;
    let mut last_label = i64::MIN;
    for (p, &d) in points.iter().zip(days) {
        let x = sc.x(d);
        if let Some(v) = p.value {
            cv.disc(x, sc.y(v.estimate), 4, LINE, true);
        }
        if let Some(r) = p.raw {
            let y = sc.y(r);
            cv.rect(x - 3, y - 3, x + 3, y + 3, BLACK);
        }
        // Verdict marker in the strip above the plot.
        if let Some(v) = p.verdict {
            cv.disc(x, TOP - 16, 7, verdict_colour(v), v != Verdict::Inconclusive);
        }
        if let Some(c) = p.withdrawal {
            let l = match c {
                Confirmation::Confirmed => "C",
                Confirmation::Pending => "P",
                Confirmation::NotSustained => "X",
            };
            cv.text(l, x - 2, TOP - 5, 1, BLACK);
        }
        cv.line((x, py0), (x, py0 + 4), BLACK, 1);
        let wlab = text_width(&p.date, 1) as i64;
        if x - wlab / 2 > last_label + 6 {
            cv.text(&p.date, x - wlab / 2, py0 + 8, 1, BLACK);
            last_label = x + wlab / 2;
        }
    }
}

fn legend(cv: &mut Canvas) {
    let mut lx = LEFT;
    let ly = H as i64 - 36;
    for v in [
        Verdict::Withdrawal,
        Verdict::PartialWithdrawal,
        Verdict::NoChange,
        Verdict::Buildup,
        Verdict::Redeployment,
        Verdict::Inconclusive,
    ] {
        cv.disc(lx + 5, ly + 3, 5, verdict_colour(v), v != Verdict::Inconclusive);
        cv.text(v.as_str(), lx + 14, ly, 1, BLACK);
        lx += 14 + text_width(v.as_str(), 1) as i64 + 14;
    }
    cv.text(
        "band: 90% interval. square: counted. C confirmed, P pending, X not sustained",
        LEFT,
        ly + 16,
        1,
        BLACK,
    );
}

/// The points and title of one site's chart (shared by the PNG and the SVG chart).
pub fn site_points(s: &SiteSeries) -> (String, Vec<ChartPoint>) {
    let pts: Vec<ChartPoint> = s
        .points
        .iter()
        .map(|p| ChartPoint {
            date: p.date.clone(),
            value: p.vehicles_estimate,
            raw: p
                .vehicles
                .filter(|_| p.vehicles_estimate.is_some())
                .map(f64::from),
            verdict: p.verdict,
            withdrawal: p.withdrawal,
        })
        .collect();
    let title = match &s.name {
        Some(n) => format!("{} - {}", s.id, n),
        None => s.id.clone(),
    };
    (title, pts)
}

/// Y-axis label of a site chart.
pub const SITE_Y_LABEL: &str = "vehicles (true number, 90% interval)";
/// Title and y-axis label of the overall chart.
pub const OVERALL_TITLE: &str = "overall withdrawal evidence";
pub const OVERALL_Y_LABEL: &str = "score = 1 - remaining fraction (90% interval)";

/// The chart of one site.
pub fn site_chart(s: &SiteSeries) -> Vec<u8> {
    let (title, pts) = site_points(s);
    render(&title, SITE_Y_LABEL, &pts, None)
}

/// The points of the overall chart: the score with its interval (0 on the baseline).
pub fn overall_points(points: &[OverallPoint]) -> Vec<ChartPoint> {
    points
        .iter()
        .map(|p| ChartPoint {
            date: p.date.clone(),
            value: match (p.verdict, p.remaining_fraction) {
                (None, _) => Some(Interval {
                    estimate: 0.0,
                    low: 0.0,
                    high: 0.0,
                }),
                (Some(_), Some(r)) => Some(Interval {
                    estimate: p.score,
                    low: (1.0 - r.high).clamp(0.0, 1.0),
                    high: (1.0 - r.low).clamp(0.0, 1.0),
                }),
                (Some(_), None) => None,
            },
            raw: None,
            verdict: p.verdict,
            withdrawal: p.withdrawal,
        })
        .collect()
}

/// The chart of the overall score.
pub fn overall_chart(points: &[OverallPoint]) -> Vec<u8> {
    render(OVERALL_TITLE, OVERALL_Y_LABEL, &overall_points(points), Some(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_draws_band_and_markers() {
        let iv = |e: f64| {
            Some(Interval {
                estimate: e,
                low: e * 0.8,
                high: e * 1.2,
            })
        };
        let pts = vec![
            ChartPoint {
                date: "2026-03-02".into(),
                value: iv(20.0),
                raw: Some(20.0),
                verdict: None,
                withdrawal: None,
            },
            ChartPoint {
                date: "2026-04-14".into(),
                value: iv(2.0),
                raw: Some(2.0),
                verdict: Some(Verdict::Withdrawal),
                withdrawal: Some(Confirmation::Pending),
            },
        ];
        let png = render("t", "y", &pts, None);
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (W, H));
        let count = |c: Rgb<u8>| img.pixels().filter(|p| **p == c).count();
        assert!(count(BAND) > 1000);
        assert!(count(verdict_colour(Verdict::Withdrawal)) > 100);
        // Same input, same bytes.
        assert_eq!(png, render("t", "y", &pts, None));
    }
}
