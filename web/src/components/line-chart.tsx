// Line charts (loss curves, requests per second, latency) with uPlot: ~50 KB, canvas-drawn, and fast
// enough to redraw every poll. The chart keeps a fixed height and is updated in place (setData), so
// new points never shift the page's layout.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  readonly label: string;
  readonly color: string;
}

export interface LineChartProps {
  /** x values (seconds since the epoch when `time`, else e.g. epoch numbers) */
  readonly x: readonly number[];
  /** one array per series, aligned with x; null is a gap */
  readonly ys: readonly (readonly (number | null)[])[];
  readonly series: readonly Series[];
  readonly height?: number;
  readonly time?: boolean;
  readonly yLabel?: string;
  readonly xLabel?: string;
  /** for screen readers and tests: what the chart shows */
  readonly title: string;
}

export function LineChart({ x, ys, series, height = 220, time = false, yLabel, xLabel, title }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = [x as number[], ...ys.map((y) => y as (number | null)[])] as uPlot.AlignedData;

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time } },
      axes: [
        { label: xLabel, stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } },
        { label: yLabel, stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false, points: { show: x.length < 40 } }))],
      legend: { show: true },
    };
    plot.current = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // a new set of series or height rebuilds the chart; new data only updates it
  }, [series.map((s) => s.label).join('|'), height, time]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <figure class="chart" style={{ minHeight: `${height + 40}px` }}>
      <div ref={box} role="img" aria-label={title} data-points={x.length} />
    </figure>
  );
}
