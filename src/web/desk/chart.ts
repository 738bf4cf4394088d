/**
 * The account page's chart: daily complaint and bounce rates over the last days against
 * the warn and suspend lines, sent volume as bars behind them. Server-rendered SVG (no
 * script, no inline style: colours come from classes in site.css), with a <title> and
 * <desc>; the page prints the same numbers in a table beside it for screen readers.
 */
import { html, type SafeHtml } from '../html.js';

export interface DayFigures {
  /** YYYY-MM-DD (UTC). */
  day: string;
  sent: number;
  complaints: number;
  hardBounces: number;
  /** False when the hour buckets of that day are no longer kept. */
  known: boolean;
}

export interface ChartLines {
  complaintWarn: number;
  complaintSuspend: number;
}

export interface ChartText {
  title: string;
  desc: string;
  complaintRate: string;
  bounceRate: string;
  sent: string;
  warn: string;
  suspend: string;
}

const W = 720;
const H = 260;
const PAD = { l: 56, r: 16, t: 16, b: 40 };

const rate = (n: number, d: number) => (d > 0 ? n / d : null);
export const pct = (r: number | null) => (r === null ? '–' : `${(r * 100).toFixed(r < 0.001 ? 3 : 2)} %`);

/** Two charts side by side would be cramped on a tablet: one chart, two rate lines, one shared scale. */
export function rateChart(days: readonly DayFigures[], lines: ChartLines, text: ChartText): SafeHtml {
  const n = Math.max(days.length, 1);
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const rates = days.flatMap((d) => [rate(d.complaints, d.sent), rate(d.hardBounces, d.sent)]).filter((r): r is number => r !== null);
  // The scale is the complaint lines' (a complaint rate is a tenth of a bounce rate: on a
  // scale that also held the bounce lines, complaints would lie flat on the axis), widened
  // for any point above them.
  const top = Math.max(lines.complaintSuspend, ...rates) * 1.15 || 0.01;
  const maxSent = Math.max(1, ...days.map((d) => d.sent));
  const x = (i: number) => PAD.l + (plotW * (i + 0.5)) / n;
  const y = (r: number) => PAD.t + plotH - (plotH * Math.min(r, top)) / top;
  const barW = Math.max(2, plotW / n - 3);
  // Volume bars stay in the lower part of the plot: the rate lines are what is read.
  const barH = (sent: number) => (plotH * 0.7 * sent) / maxSent;

  const path = (pick: (d: DayFigures) => number | null) => {
    let d = '';
    let pen = false;
    days.forEach((day, i) => {
      const r = day.known ? pick(day) : null;
      if (r === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(r).toFixed(1)} `;
      pen = true;
    });
    return d.trim();
  };
  const points = (pick: (d: DayFigures) => number | null, cls: string) =>
    days.map((day, i) => {
      const r = day.known ? pick(day) : null;
      return r === null ? '' : html`<circle class="${cls}" cx="${x(i).toFixed(1)}" cy="${y(r).toFixed(1)}" r="2.5"></circle>`;
    });
  // Labels at opposite ends, so that close lines do not print over each other.
  const hline = (r: number, cls: string, label: string, end: boolean) =>
    html`<line class="${cls}" x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(r).toFixed(1)}" y2="${y(r).toFixed(1)}"></line><text class="axis ${cls}-label" x="${end ? W - PAD.r - 4 : PAD.l + 4}" y="${(y(r) - 4).toFixed(1)}" text-anchor="${end ? 'end' : 'start'}">${label} ${pct(r)}</text>`;
  const ticks = [0, top / 2, top];
  const complaint = (d: DayFigures) => rate(d.complaints, d.sent);
  const bounce = (d: DayFigures) => rate(d.hardBounces, d.sent);

  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">
<title id="chart-title">${text.title}</title>
<desc id="chart-desc">${text.desc}</desc>
${days.map((d, i) => (d.sent > 0 ? html`<rect class="bar" x="${(x(i) - barW / 2).toFixed(1)}" y="${(PAD.t + plotH - barH(d.sent)).toFixed(1)}" width="${barW.toFixed(1)}" height="${barH(d.sent).toFixed(1)}"></rect>` : ''))}
${ticks.map((r) => html`<text class="axis" x="${PAD.l - 6}" y="${(y(r) + 4).toFixed(1)}" text-anchor="end">${pct(r)}</text>`)}
<line class="frame" x1="${PAD.l}" x2="${PAD.l}" y1="${PAD.t}" y2="${PAD.t + plotH}"></line>
<line class="frame" x1="${PAD.l}" x2="${W - PAD.r}" y1="${PAD.t + plotH}" y2="${PAD.t + plotH}"></line>
${hline(lines.complaintWarn, 'warn', text.warn, false)}
${hline(lines.complaintSuspend, 'suspend', text.suspend, true)}
<path class="line complaint" d="${path(complaint)}"></path>
<path class="line bounce" d="${path(bounce)}"></path>
${points(complaint, 'dot complaint')}
${points(bounce, 'dot bounce')}
${days.map((d, i) => (i % 5 === 0 || i === days.length - 1 ? html`<text class="axis" x="${x(i).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${d.day.slice(5)}</text>` : ''))}
<g class="legend" transform="translate(${PAD.l + 8},${H - 8})">
<rect class="bar" x="0" y="-9" width="12" height="10"></rect><text class="axis" x="16" y="0">${text.sent}</text>
<line class="line complaint" x1="110" x2="130" y1="-4" y2="-4"></line><text class="axis" x="134" y="0">${text.complaintRate}</text>
<line class="line bounce" x1="270" x2="290" y1="-4" y2="-4"></line><text class="axis" x="294" y="0">${text.bounceRate}</text>
</g>
</svg>`;
}
