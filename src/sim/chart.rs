//! `--chart FILE.svg`: waits and queue length across the window, drawn as plain SVG (a
//! report file, opened in a browser or printed; no scripts, no external resources).
//!
//! Top: every citizen's wait (blue: answered; grey: gave up, at how long they waited) and
//! the estimate they were told at joining (orange), against when they arrived. Bottom: the
//! average number waiting, minute by minute, over all simulated days. A dashed line marks
//! the close.

use std::fmt::Write;

use jiff::{SignedDuration, Timestamp};

use super::report::Report;
use super::run::{Fate, Outcome};
use super::secs;

const W: f64 = 960.0;
const H: f64 = 600.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const TOP1: f64 = 58.0;
const BOT1: f64 = 330.0;
const TOP2: f64 = 380.0;
const BOT2: f64 = 550.0;

/// A round step giving about `n` ticks over `max`.
fn step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn svg(out: &Outcome, report: &Report, tz: &jiff::tz::TimeZone) -> String {
    let Some(first) = out.days.first() else {
        return String::new();
    };
    let window_min = secs(first.window.closes_at.duration_since(first.window.opens_at)) / 60.0;
    let mut pts = Vec::new(); // (arrival min, wait min, kind)
    let mut max_wait: f64 = 5.0;
    let mut max_x = window_min;
    for d in &out.days {
        let since = |t: Timestamp| secs(t.duration_since(d.window.opens_at)) / 60.0;
        for c in d.citizens.iter().filter(|c| c.measured) {
            let x = since(c.arrived);
            let (wait, kind) = match c.fate {
                Fate::Answered { at } => (secs(at.duration_since(c.arrived)) / 60.0, 0),
                Fate::Abandoned { at } => (secs(at.duration_since(c.arrived)) / 60.0, 1),
                _ => continue,
            };
            pts.push((x, wait, kind));
            max_wait = max_wait.max(wait);
            max_x = max_x.max(x + wait);
            if let Some(e) = c.told.first().and_then(|t| t.estimate) {
                let e = secs(e) / 60.0;
                pts.push((x, e, 2));
                max_wait = max_wait.max(e);
            }
        }
    }
    let q = &report.queue.waiting_by_minute;
    max_x = max_x.max(q.len() as f64 - 1.0);
    let max_q = q.iter().copied().fold(1.0, f64::max);
    let xs = |m: f64| LEFT + m / max_x * (W - LEFT - RIGHT);
    let y1 = |v: f64| BOT1 - v / max_wait * (BOT1 - TOP1);
    let y2 = |v: f64| BOT2 - v / max_q * (BOT2 - TOP2);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let i = &report.inputs;
    let title = format!(
        "{} day(s): {}, {} a day; {}",
        i.days, i.arrivals, i.calls_per_day, i.call_length
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="16" font-size="13">{}</text>"#,
        esc(&title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="30" font-size="11">officers: {}</text>"#,
        esc(&i.officers)
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{}" >wait (min) by arrival time — <tspan fill="steelblue">answered</tspan>, <tspan fill="grey">gave up</tspan>, <tspan fill="darkorange">estimate told at joining</tspan></text>"#,
        TOP1 - 8.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{}">average number waiting</text>"#,
        TOP2 - 8.0
    );
    // Axes and grid.
    let xstep = if max_x > 150.0 { 30.0 } else { 15.0 };
    let opens = first.window.opens_at;
    let mut m = 0.0;
    while m <= max_x + 1e-9 {
        let x = xs(m);
        let label = (opens + SignedDuration::from_secs((m * 60.0) as i64))
            .to_zoned_datetime(tz.clone())
            .strftime("%H:%M")
            .to_string();
        for (top, bot) in [(TOP1, BOT1), (TOP2, BOT2)] {
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bot}" stroke="#eee"/>"##
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"#,
            BOT2 + 18.0
        );
        m += xstep;
    }
    for (max, top, bot, y) in [
        (max_wait, TOP1, BOT1, &y1 as &dyn Fn(f64) -> f64),
        (max_q, TOP2, BOT2, &y2),
    ] {
        let st = step(max, 5.0);
        let mut v = 0.0;
        while v <= max + 1e-9 {
            let yy = y(v);
            let label = (v * 1000.0).round() / 1000.0;
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                yy + 4.0
            );
            v += st;
        }
        let _ = writeln!(
            s,
            r#"<rect x="{LEFT}" y="{top}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
            W - LEFT - RIGHT,
            bot - top
        );
    }
    let xc = xs(window_min);
    let _ = writeln!(
        s,
        r#"<line x1="{xc:.1}" y1="{TOP1}" x2="{xc:.1}" y2="{BOT2}" stroke="black" stroke-dasharray="4 4"/><text x="{:.1}" y="{:.1}" text-anchor="end">close</text>"#,
        xc - 4.0,
        TOP1 + 14.0
    );
    for (x, v, kind) in pts {
        let (cx, cy) = (xs(x), y1(v));
        let _ = match kind {
            0 => writeln!(
                s,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="2" fill="steelblue" fill-opacity="0.5"/>"#
            ),
            1 => writeln!(
                s,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="2" fill="grey" fill-opacity="0.5"/>"#
            ),
            _ => writeln!(
                s,
                r#"<line x1="{:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="darkorange" stroke-opacity="0.6"/>"#,
                cx - 3.0,
                cx + 3.0
            ),
        };
    }
    let path: Vec<String> = q
        .iter()
        .enumerate()
        .map(|(m, v)| format!("{:.1},{:.1}", xs(m as f64), y2(*v)))
        .collect();
    let _ = writeln!(
        s,
        r#"<polyline points="{}" fill="none" stroke="steelblue" stroke-width="2"/>"#,
        path.join(" ")
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(step(47.0, 5.0), 10.0);
        assert_eq!(step(9.0, 5.0), 2.0);
        assert!((step(0.8, 5.0) - 0.2).abs() < 1e-12);
    }
}
