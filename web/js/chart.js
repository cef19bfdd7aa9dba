// The supervisor's chart of today's window: citizens who joined per interval (bars), calls
// answered (a step line) on the left axis, and the average wait of those calls in minutes
// on the right. Drawn by uPlot (vendored, unmodified: web/vendor/uplot/); this module only
// configures it. uPlot draws on a canvas and sets sizes through element.style, which the
// page's Content-Security-Policy allows (no inline style attributes or elements).

import uPlot from '/assets/vendor/uplot/uPlot.esm.js';
import { t } from './i18n.js';
import { fmtTime } from './ui.js';

const HEIGHT = 260;
const COLORS = { joined: '#0b4fa8', answered: '#0a6b32', wait: '#a4161a' };
const FONT = '14px system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans Devanagari", sans-serif';

const clock = (secs, tz) => fmtTime(new Date(secs * 1000).toISOString(), tz);
const minutes = (secs) => (secs == null ? null : Math.round(secs / 6) / 10);

/** uPlot's columns from the API's `today` answer. */
export function columns(d) {
  return [d.starts, d.arrivals, d.answered, d.avg_wait_secs.map(minutes)];
}

function options(width, tz, intervalSecs) {
  const count = (u, v) => (v == null ? '—' : String(v));
  return {
    width,
    height: HEIGHT,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: {
      // The last interval's bar stands to the right of its start.
      x: { time: false, range: (u, lo, hi) => [lo, hi + intervalSecs] },
      n: { range: (u, lo, hi) => [0, Math.max(4, Math.ceil((hi || 0) * 1.15))] },
      m: { range: (u, lo, hi) => [0, Math.max(5, Math.ceil((hi || 0) * 1.15))] },
    },
    series: [
      { label: t('chart.time'), value: (u, v) => (v == null ? '—' : clock(v, tz)) },
      {
        label: t('chart.arrivals'), scale: 'n', stroke: COLORS.joined, fill: 'rgba(11, 79, 168, 0.28)', width: 1,
        paths: uPlot.paths.bars({ size: [0.8, Infinity], align: 1 }), points: { show: false }, value: count,
      },
      {
        label: t('chart.answered'), scale: 'n', stroke: COLORS.answered, width: 2,
        paths: uPlot.paths.stepped({ align: 1 }), points: { show: false }, value: count,
      },
      {
        label: t('chart.avg_wait'), scale: 'm', stroke: COLORS.wait, width: 2, spanGaps: false,
        points: { size: 6 }, value: (u, v) => (v == null ? '—' : String(v)),
      },
    ],
    axes: [
      {
        font: FONT, stroke: '#1b1b1f', grid: { stroke: '#e4e4ea' },
        // Interval starts, on whole intervals only.
        splits: (u) => u.data[0].filter((s, i) => i % Math.max(1, Math.round(1800 / intervalSecs)) === 0),
        values: (u, splits) => splits.map((s) => clock(s, tz)),
      },
      { scale: 'n', font: FONT, labelFont: FONT, label: t('chart.people'), stroke: COLORS.joined, grid: { stroke: '#e4e4ea' }, size: 48 },
      { scale: 'm', side: 1, font: FONT, labelFont: FONT, label: t('chart.minutes'), stroke: COLORS.wait, grid: { show: false }, size: 52 },
    ],
  };
}

/** A chart in `node` that follows the node's width; `update` redraws with new data. */
export class DayChart {
  constructor(node) {
    this.node = node;
    this.plot = null;
    this.last = null;
    this.tz = 'Asia/Kolkata';
    let pending = 0;
    window.addEventListener('resize', () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => this.plot && this.plot.setSize({ width: this.width(), height: HEIGHT }));
    });
  }

  width() { return Math.max(280, this.node.clientWidth); }

  /** Draws `data` (the API's `today` answer) in zone `tz`; rebuilds when labels change. */
  update(data, tz, { rebuild = false } = {}) {
    const shape = `${tz}|${data.interval_secs}|${data.starts.length}`;
    if (this.plot && (rebuild || this.shape !== shape)) { this.plot.destroy(); this.plot = null; }
    this.last = data;
    this.tz = tz;
    this.shape = shape;
    if (!data.starts.length) return;
    if (this.plot) this.plot.setData(columns(data));
    else this.plot = new uPlot(options(this.width(), tz, data.interval_secs), columns(data), this.node);
  }

  /** Labels come from the dictionary: redraw after a language change. */
  relabel() { if (this.last) this.update(this.last, this.tz, { rebuild: true }); }
}
