//! `report.html` in a real browser (Debian's `chromium`, headless, driven over the
//! DevTools protocol with `headless_chrome`), with networking disabled (a dead proxy and
//! a resolver that resolves nothing). On the `demo` scenario, whose site ids are
//! replaced by markup, the test asserts: no console error, exception or security
//! (Content-Security-Policy) message; no request other than the file itself and its
//! `data:` images; every image decoded; one table row per site; the hostile ids shown as
//! text (one script element, no injected image); a change-mask toggle shows its
//! overlay; a column header sorts the table. The `timeline` page of the five-date
//! series: one SVG chart per site plus the overall one, no console error. A screenshot
//! of the compare page goes to `target/report-screenshot.png`.
//!
//! Without a browser the test prints why and passes, unless `STAGEWATCH_REQUIRE_BROWSER`
//! is set (CI sets it after installing `chromium`); `STAGEWATCH_CHROMIUM` names the
//! binary when it is not on the usual paths.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Network, Page};
use headless_chrome::{Browser, LaunchOptions, Tab};

const HOSTILE: [&str; 2] = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(2)>"];

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STAGEWATCH_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// What the page did: console and log messages, and the URLs it requested.
#[derive(Default)]
struct Seen {
    problems: Vec<String>,
    urls: Vec<String>,
}

fn open(browser: &Browser, page: &Path) -> (Arc<Tab>, Arc<Mutex<Seen>>) {
    let tab = browser.new_tab().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tab.add_event_listener(Arc::new(move |e: &Event| {
        let mut s = s.lock().unwrap();
        match e {
            Event::RuntimeExceptionThrown(x) => s
                .problems
                .push(format!("exception: {:?}", x.params.exception_details)),
            Event::RuntimeConsoleAPICalled(x) => {
                let t = format!("{:?}", x.params.Type);
                if t.contains("Error") || t.contains("Warning") || t.contains("Assert") {
                    s.problems.push(format!("console {t}: {:?}", x.params.args))
                }
            }
            Event::LogEntryAdded(x) => s.problems.push(format!("log: {:?}", x.params.entry)),
            Event::NetworkRequestWillBeSent(x) => s.urls.push(x.params.request.url.clone()),
            _ => {}
        }
    }))
    .unwrap();
    tab.enable_runtime().unwrap();
    tab.enable_log().unwrap();
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    tab.navigate_to(&url).unwrap().wait_until_navigated().unwrap();
    (tab, seen)
}

/// The value of a JavaScript expression (through JSON: arrays come back by value).
fn eval(tab: &Tab, js: &str) -> serde_json::Value {
    let v = tab
        .evaluate(&format!("JSON.stringify({js})"), false)
        .unwrap_or_else(|e| panic!("{js}: {e}"))
        .value;
    match v {
        Some(serde_json::Value::String(s)) => serde_json::from_str(&s).unwrap(),
        other => panic!("{js}: {other:?}"),
    }
}

fn check_quiet(seen: &Mutex<Seen>, page: &Path) {
    let s = seen.lock().unwrap();
    assert!(s.problems.is_empty(), "{}: {:#?}", page.display(), s.problems);
    for u in &s.urls {
        assert!(
            u.starts_with("file:") || u.starts_with("data:"),
            "{} requested {u}",
            page.display()
        );
    }
}

/// The demo scenario with the first two site ids replaced by markup.
fn hostile_compare(dir: &Path) -> PathBuf {
    let r = common::synth("demo", &dir.join("scene"));
    let text = std::fs::read_to_string(&r.sites).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (f, id) in v["features"].as_array_mut().unwrap().iter_mut().zip(HOSTILE) {
        f["properties"]["id"] = serde_json::Value::String(id.to_string());
    }
    std::fs::write(&r.sites, serde_json::to_string(&v).unwrap()).unwrap();
    let out = dir.join("out");
    let o = common::compare(&r, &out, &[]);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.join("report.html")
}

fn timeline_page(dir: &Path) -> PathBuf {
    let s = stagewatch::synth::series::render_series("withdrawal-series", &dir.join("series")).unwrap();
    let out = dir.join("tl");
    let o = common::run(&[
        "--quiet",
        "timeline",
        "--detector",
        "tophat",
        "--images",
        s.catalog.to_str().unwrap(),
        "--sites",
        s.sites.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.join("report.html")
}

#[test]
fn the_report_works_offline_in_a_real_browser() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("STAGEWATCH_REQUIRE_BROWSER").is_none(),
            "STAGEWATCH_REQUIRE_BROWSER is set but no chromium was found"
        );
        eprintln!("skipped: no chromium (install Debian's `chromium`, or set STAGEWATCH_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = hostile_compare(dir.path());
    let tl = timeline_page(dir.path());
    let browser = Browser::new(
        LaunchOptions::default_builder()
            .path(Some(bin))
            .headless(true)
            .sandbox(false)
            .window_size(Some((1200, 1600)))
            .args(vec![
                OsStr::new("--proxy-server=127.0.0.1:9"),
                OsStr::new("--host-resolver-rules=MAP * ~NOTFOUND"),
                OsStr::new("--no-first-run"),
                OsStr::new("--disable-background-networking"),
            ])
            .build()
            .unwrap(),
    )
    .unwrap();

    let (tab, seen) = open(&browser, &page);
    let n_img = eval(&tab, "document.images.length").as_u64().unwrap();
    assert!(n_img >= 10, "{n_img} images");
    assert_eq!(
        eval(
            &tab,
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"
        ),
        0,
        "an image did not decode"
    );
    assert_eq!(
        eval(&tab, "document.querySelectorAll('#sites tbody tr').length"),
        6
    );
    assert_eq!(eval(&tab, "document.querySelectorAll('.card').length"), 6);
    // The hostile ids are text: one script (the page's own), no injected image.
    assert_eq!(eval(&tab, "document.querySelectorAll('script').length"), 1);
    assert_eq!(
        eval(&tab, "document.querySelectorAll('img[src=\"x\"]').length"),
        0
    );
    let ids = eval(
        &tab,
        "Array.from(document.querySelectorAll('#sites tbody tr td:first-child')).map(td => td.textContent)",
    );
    for h in HOSTILE {
        assert!(
            ids.as_array().unwrap().iter().any(|v| v == h),
            "{h} not shown as text: {ids}"
        );
    }
    // A toggle shows the change mask of its card.
    let shown = "getComputedStyle(document.querySelector('.card img.ov.change')).display";
    assert_eq!(eval(&tab, shown), "none");
    tab.find_element(".card input.t-change").unwrap().click().unwrap();
    assert_eq!(eval(&tab, shown), "block");
    // A numeric header sorts the rows by it (ascending on the first click).
    tab.find_element("#sites th:nth-child(4)")
        .unwrap()
        .click()
        .unwrap();
    let col = eval(
        &tab,
        "Array.from(document.querySelectorAll('#sites tbody tr td:nth-child(4)')).map(td => +td.dataset.v)",
    );
    let v: Vec<f64> = col
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(v.windows(2).all(|w| w[0] <= w[1]), "not sorted: {v:?}");
    let png = tab
        .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("report-screenshot.png");
    std::fs::write(&shot, png).unwrap();
    eprintln!("screenshot: {}", shot.display());
    check_quiet(&seen, &page);

    let (tab, seen) = open(&browser, &tl);
    let sites = eval(&tab, "document.querySelectorAll('section.card').length")
        .as_u64()
        .unwrap();
    assert!(sites >= 2);
    assert_eq!(
        eval(&tab, "document.querySelectorAll('.chart svg').length")
            .as_u64()
            .unwrap(),
        sites + 1
    );
    check_quiet(&seen, &tl);
}
