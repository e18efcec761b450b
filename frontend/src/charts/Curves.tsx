import { EChart } from './EChart';

interface Point { candidate?: string; epoch?: number; step?: number; value: number }

/** Training curves: one line per (metric, candidate) over epochs. */
export function Curves({ curves }: { curves: Record<string, Point[]> }) {
  const series = Object.entries(curves).flatMap(([metric, points]) => {
    const byCandidate = new Map<string, [number, number][]>();
    (points ?? []).forEach((p, i) => {
      const key = p.candidate ? `${metric} · ${p.candidate}` : metric;
      byCandidate.set(key, [...(byCandidate.get(key) ?? []), [p.epoch ?? p.step ?? i, p.value]]);
    });
    return [...byCandidate.entries()].map(([name, data]) => ({ name, type: 'line', data, showSymbol: data.length < 30 }));
  });
  if (!series.length) return <p className="muted">No curve recorded.</p>;
  const option = {
    tooltip: { trigger: 'axis' },
    legend: { type: 'scroll', bottom: 0 },
    grid: { left: 50, right: 20, top: 20, bottom: 50 },
    xAxis: { type: 'value', name: 'epoch', minInterval: 1 },
    yAxis: { type: 'value', scale: true },
    series,
  };
  return <EChart option={option} height={260} />;
}
