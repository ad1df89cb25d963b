/**
 * A bar chart as a standalone SVG (no library): one group of bars per category, one bar per
 * series, a value label on each bar. Enough for `--chart` to show the figures at a glance.
 */
export interface BarChart {
  title: string;
  unit: string;
  categories: string[];
  series: { name: string; values: (number | null)[] }[];
  /** Log scale for figures spanning orders of magnitude. */
  log?: boolean;
}

const COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function label(v: number): string {
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toPrecision(2);
}

export function barChartSvg(c: BarChart): string {
  const bar = 18, gap = 4, groupGap = 18, left = 120, right = 80, top = 50;
  const plotW = 520;
  const n = c.series.length;
  const groupH = n * (bar + gap) + groupGap;
  const height = top + c.categories.length * groupH + 40;
  const all = c.series.flatMap((s) => s.values).filter((v): v is number => v !== null && v > 0);
  const max = Math.max(1e-9, ...all);
  const min = c.log ? Math.min(...all) / 2 : 0;
  const scale = (v: number): number => c.log ? (Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min)) * plotW : v / max * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${left + plotW + right}" height="${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${left}" y="20" font-size="15" font-weight="bold">${esc(c.title)}</text>`);
  out.push(`<text x="${left}" y="38" fill="#555">${esc(c.unit)}${c.log ? ' (log scale)' : ''}</text>`);
  c.categories.forEach((cat, i) => {
    const y0 = top + i * groupH;
    out.push(`<text x="${left - 8}" y="${y0 + (n * (bar + gap)) / 2 + 4}" text-anchor="end">${esc(cat)}</text>`);
    c.series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined || !(v > 0)) return;
      const y = y0 + j * (bar + gap), w = Math.max(1, scale(v));
      out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${COLOURS[j % COLOURS.length]}"><title>${esc(s.name)}: ${label(v)}</title></rect>`);
      out.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + bar - 5}">${label(v)}${n > 1 ? ` ${esc(s.name)}` : ''}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
