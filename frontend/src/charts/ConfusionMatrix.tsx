import { EChart } from './EChart';

/** Rows: true class; columns: predicted class; colour: the share of the row. */
export function ConfusionMatrix({ labels, matrix }: { labels: string[]; matrix: number[][] }) {
  const data: [number, number, number, number][] = [];
  matrix.forEach((row, t) => {
    const sum = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((v, p) => data.push([p, labels.length - 1 - t, v / sum, v]));
  });
  const option = {
    tooltip: { formatter: (p: { value: number[] }) => `true ${labels[labels.length - 1 - p.value[1]]} → predicted ${labels[p.value[0]]}: ${p.value[3]}` },
    grid: { left: 90, right: 20, top: 10, bottom: 60 },
    xAxis: { type: 'category', data: labels, name: 'Predicted', nameLocation: 'middle', nameGap: 35, splitArea: { show: true } },
    yAxis: { type: 'category', data: [...labels].reverse(), name: 'True', nameLocation: 'middle', nameGap: 70, splitArea: { show: true } },
    visualMap: { min: 0, max: 1, show: false, inRange: { color: ['#f4f7ff', '#316bf3'] } },
    series: [{ type: 'heatmap', data, label: { show: true, formatter: (p: { value: number[] }) => String(p.value[3]) } }],
  };
  return <EChart option={option} height={Math.max(220, 60 + labels.length * 40)} />;
}
