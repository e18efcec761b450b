import { useEffect, useRef } from 'react';
import { echarts } from './echarts';

/** One ECharts chart in a div: created once, updated with each option, resized with its box. */
export function EChart({ option, height }: { option: Record<string, unknown>; height: number }) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<ReturnType<typeof echarts.init> | null>(null);
  useEffect(() => {
    const instance = echarts.init(host.current!);
    chart.current = instance;
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(host.current!);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(option, true);
  }, [option]);
  return <div ref={host} style={{ height, width: '100%' }} />;
}
