/**
 * The account page's chart: daily complaint rate and bounce rate over the last days, each
 * against its own warn and suspend lines, with the sent volume as bars below them.
 * Server-rendered SVG (no script, no inline style: colours come from classes in site.css),
 * with a <title> and <desc>; the page prints the same numbers in a table beside it for
 * screen readers.
 */
import { html, type SafeHtml } from '../html.js';

export interface DayFigures {
  /** YYYY-MM-DD (UTC). */
  day: string;
  sent: number;
  complaints: number;
  hardBounces: number;
}

export interface ChartLines {
  complaintWarn: number;
  complaintSuspend: number;
  bounceWarn: number;
  bounceSuspend: number;
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
const PAD = { l: 64, r: 16 };
/** Three bands, top to bottom: complaint rate, bounce rate, sent volume; day labels below. */
const BANDS = { complaint: { top: 24, h: 120 }, bounce: { top: 176, h: 120 }, sent: { top: 328, h: 64 } };
const H = 424;

const rate = (n: number, d: number) => (d > 0 ? n / d : null);
export const pct = (r: number | null) => (r === null ? '–' : `${(r * 100).toFixed(r < 0.001 ? 3 : 2)} %`);
/** The figures a day's rates are read from: the table beside the chart prints the same. */
export const complaintRate = (d: DayFigures) => rate(d.complaints, d.sent);
export const bounceRate = (d: DayFigures) => rate(d.hardBounces, d.sent);

/**
 * One chart, a band per rate: each rate has its own scale and lines (a complaint rate is a
 * tenth of a bounce rate: on one scale, complaints would lie flat on the axis), and the
 * days line up across the bands, so a spike in volume sits under the rates it moved.
 */
export function rateChart(days: readonly DayFigures[], lines: ChartLines, text: ChartText): SafeHtml {
  const n = Math.max(days.length, 1);
  const plotW = W - PAD.l - PAD.r;
  const x = (i: number) => PAD.l + (plotW * (i + 0.5)) / n;
  const barW = Math.max(2, plotW / n - 3);

  const band = (b: { top: number; h: number }, label: string, pick: (d: DayFigures) => number | null, warn: number, suspend: number, cls: string) => {
    const values = days.map(pick).filter((r): r is number => r !== null);
    // The scale holds the suspend line, widened for any point above it.
    const top = Math.max(suspend, ...values) * 1.15 || 0.01;
    const y = (r: number) => b.top + b.h - (b.h * Math.min(r, top)) / top;
    let d = '';
    let pen = false;
    days.forEach((day, i) => {
      const r = pick(day);
      if (r === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(r).toFixed(1)} `;
      pen = true;
    });
    // Labels at opposite ends, so that close lines do not print over each other.
    const hline = (r: number, lineCls: string, name: string, end: boolean) =>
      html`<line class="${lineCls}" x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(r).toFixed(1)}" y2="${y(r).toFixed(1)}"></line><text class="axis" x="${end ? W - PAD.r - 4 : PAD.l + 4}" y="${(y(r) - 4).toFixed(1)}" text-anchor="${end ? 'end' : 'start'}">${name} ${pct(r)}</text>`;
    return html`<text class="axis band-label" x="${PAD.l}" y="${b.top - 8}">${label}</text>
${[0, top / 2, top].map((r) => html`<text class="axis" x="${PAD.l - 6}" y="${(y(r) + 4).toFixed(1)}" text-anchor="end">${pct(r)}</text>`)}
<line class="frame" x1="${PAD.l}" x2="${PAD.l}" y1="${b.top}" y2="${b.top + b.h}"></line>
<line class="frame" x1="${PAD.l}" x2="${W - PAD.r}" y1="${b.top + b.h}" y2="${b.top + b.h}"></line>
${hline(warn, 'warn', text.warn, false)}
${hline(suspend, 'suspend', text.suspend, true)}
<path class="line ${cls}" d="${d.trim()}"></path>
${days.map((day, i) => {
  const r = pick(day);
  return r === null ? '' : html`<circle class="dot ${cls}" cx="${x(i).toFixed(1)}" cy="${y(r).toFixed(1)}" r="2.5"></circle>`;
})}`;
  };

  const s = BANDS.sent;
  const maxSent = Math.max(1, ...days.map((d) => d.sent));
  const barH = (sent: number) => (s.h * sent) / maxSent;
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">
<title id="chart-title">${text.title}</title>
<desc id="chart-desc">${text.desc}</desc>
${band(BANDS.complaint, text.complaintRate, complaintRate, lines.complaintWarn, lines.complaintSuspend, 'complaint')}
${band(BANDS.bounce, text.bounceRate, bounceRate, lines.bounceWarn, lines.bounceSuspend, 'bounce')}
<text class="axis band-label" x="${PAD.l}" y="${s.top - 8}">${text.sent}</text>
<text class="axis" x="${PAD.l - 6}" y="${s.top + 4}" text-anchor="end">${maxSent}</text>
<text class="axis" x="${PAD.l - 6}" y="${s.top + s.h + 4}" text-anchor="end">0</text>
${days.map((d, i) => (d.sent > 0 ? html`<rect class="bar" x="${(x(i) - barW / 2).toFixed(1)}" y="${(s.top + s.h - barH(d.sent)).toFixed(1)}" width="${barW.toFixed(1)}" height="${barH(d.sent).toFixed(1)}"></rect>` : ''))}
<line class="frame" x1="${PAD.l}" x2="${W - PAD.r}" y1="${s.top + s.h}" y2="${s.top + s.h}"></line>
${days.map((d, i) => (i % 5 === 0 || i === days.length - 1 ? html`<text class="axis" x="${x(i).toFixed(1)}" y="${s.top + s.h + 18}" text-anchor="middle">${d.day.slice(5)}</text>` : ''))}
</svg>`;
}
