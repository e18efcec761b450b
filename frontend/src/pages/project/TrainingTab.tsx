import { useQuery } from '@tanstack/react-query';
import { api, ok, type Project } from '../../api/client';
import { ErrorBox, formatDuration, ProgressBar, StatusBadge } from '../../components/ui';
import { ConfusionMatrix } from '../../charts/ConfusionMatrix';
import { Curves } from '../../charts/Curves';

interface PerClass { label: string; precision: number; recall: number; f1: number; support: number }
const pct = (v: unknown) => (typeof v !== 'number' ? String(v) : Number.isInteger(v) && v > 1 ? String(v) : v <= 1 ? `${(v * 100).toFixed(1)}%` : v.toFixed(3));

export function TrainingTab({ project }: { project: Project }) {
  const train = project.execution?.phases.find((p) => p.name === 'train');
  const jobId = train?.instance?.id;
  const job = useQuery({
    queryKey: ['job', jobId],
    enabled: !!jobId,
    queryFn: () => ok(api.GET('/v1/training-jobs/{job_id}', { params: { path: { job_id: jobId! } } })),
    refetchInterval: (q) => (['pending', 'running', 'creating'].includes(q.state.data?.status ?? '') ? 2000 : false),
  });
  if (!jobId) return <p className="empty">Training starts after the data is published and checked.</p>;
  if (!job.data) return <ErrorBox error={job.error} />;
  const j = job.data;
  const metrics = (j.metrics ?? {}) as Record<string, unknown>;
  const perClass = (metrics.per_class ?? []) as PerClass[];
  const confusion = metrics.confusion_matrix as { labels: string[]; matrix: number[][] } | undefined;
  const scalars = Object.entries(metrics).filter(([, v]) => typeof v === 'number');
  const candidates = (j.candidates ?? []) as { name: string; latency_ms?: number; status?: string; score?: number; epochs?: number; seconds?: number }[];
  const chosen = candidates.find((c) => c.name === j.candidate);
  return (
    <div className="grid-2">
      <div>
        <div className="card">
          <h3>Training job <StatusBadge status={j.status} /></h3>
          <ProgressBar value={j.progress ?? 0} label={`${j.phase ?? j.status} · ${Math.round(j.progress ?? 0)}%`} />
          <dl className="facts">
            <dt>Engine</dt><dd>{j.engine ?? '—'}</dd>
            <dt>Model</dt><dd>{j.candidate ?? '—'}</dd>
            <dt>Duration</dt><dd>{formatDuration(j.duration_seconds)} of a {formatDuration(j.budget_seconds)} budget</dd>
            <dt>Latency</dt><dd data-testid="latency">{chosen?.latency_ms != null ? `${chosen.latency_ms.toFixed(1)} ms / prediction` : '—'}</dd>
            <dt>Parameters</dt><dd><code>{Object.entries(j.parameters ?? {}).filter(([, v]) => v != null).map(([k, v]) => `${k}=${v}`).join(' · ')}</code></dd>
          </dl>
          {j.error_msg ? <p className="field-error">{j.error_msg}</p> : null}
        </div>
        <div className="card">
          <h3>Evaluation</h3>
          <div className="metric-cards">
            {scalars.map(([k, v]) => <div key={k} className="metric"><span>{k.replace(/_/g, ' ')}</span><b>{pct(v)}</b></div>)}
          </div>
          {perClass.length ? (
            <table className="table compact" aria-label="Per-class metrics">
              <thead><tr><th>Label</th><th>Precision</th><th>Recall</th><th>F1 score</th><th>Samples</th></tr></thead>
              <tbody>{perClass.map((c) => <tr key={c.label}><td>{c.label}</td><td>{pct(c.precision)}</td><td>{pct(c.recall)}</td><td>{pct(c.f1)}</td><td>{c.support}</td></tr>)}</tbody>
            </table>
          ) : null}
        </div>
        <div className="card">
          <h3>Log</h3>
          <pre className="log" data-testid="training-log">{(j.logs ?? []).join('\n') || 'No log yet.'}</pre>
        </div>
      </div>
      <div>
        {confusion ? (
          <div className="card">
            <h3>Confusion matrix</h3>
            <ConfusionMatrix labels={confusion.labels} matrix={confusion.matrix} />
          </div>
        ) : null}
        <div className="card">
          <h3>Training curves</h3>
          <Curves curves={(j.curves ?? {}) as Record<string, { value: number }[]>} />
        </div>
        {candidates.length ? (
          <div className="card">
            <h3>Candidates</h3>
            <table className="table compact">
              <thead><tr><th>Model</th><th>Score</th><th>Latency</th><th>Epochs</th><th>Time</th><th>Status</th></tr></thead>
              <tbody>{candidates.map((c) => <tr key={c.name} className={c.name === j.candidate ? 'chosen' : ''}><td>{c.name}</td><td>{c.score != null ? pct(c.score) : '—'}</td><td>{c.latency_ms != null ? `${c.latency_ms.toFixed(1)} ms` : '—'}</td><td>{c.epochs ?? '—'}</td><td>{formatDuration(c.seconds)}</td><td>{c.status}</td></tr>)}</tbody>
            </table>
          </div>
        ) : null}
      </div>
    </div>
  );
}
