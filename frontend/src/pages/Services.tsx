import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ok, type Service } from '../api/client';
import { ErrorBox, formatTime, StatusBadge } from '../components/ui';

function Countdown({ due }: { due: string | null | undefined }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  if (!due) return <span>off</span>;
  const left = Math.max(0, Date.parse(due) - now) / 1000;
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = Math.floor(left % 60);
  return <span data-testid="countdown">stops in {h}h {String(m).padStart(2, '0')}m {String(s).padStart(2, '0')}s</span>;
}

function useStartStop(service: Service | undefined) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (status: 'running' | 'stopped') => ok(api.PUT('/v1/services/{service_id}', { params: { path: { service_id: service!.service_id } }, body: { status } })),
    onSuccess: () => ['service', 'services'].forEach((k) => queryClient.invalidateQueries({ queryKey: [k] })),
  });
}

export function Services() {
  const services = useQuery({ queryKey: ['services'], queryFn: () => ok(api.GET('/v1/services')) });
  return (
    <section>
      <h1>Real-Time Services</h1>
      <table className="table">
        <thead><tr><th>Name</th><th>Status</th><th>Versions</th><th>Calls (failed)</th><th>Auto stop</th><th>Published</th></tr></thead>
        <tbody>
          {services.data?.items.map((s) => (
            <tr key={s.service_id}>
              <td><Link to={`/services/${s.service_id}`}>{s.service_name}</Link></td>
              <td><StatusBadge status={s.status} /></td>
              <td>{s.config.map((c) => `${c.model_version} (${c.weight}%)`).join(', ')}</td>
              <td>{s.invocation_times} ({s.failed_times})</td>
              <td>{s.status === 'running' ? <Countdown due={s.due_time} /> : '—'}</td>
              <td>{formatTime(s.publish_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {services.data?.total === 0 ? <p className="empty">No service yet: deploy one from a project.</p> : null}
      <ErrorBox error={services.error} />
    </section>
  );
}

export function ServiceDetail() {
  const { serviceId = '' } = useParams();
  const path = { params: { path: { service_id: serviceId } } };
  const service = useQuery({
    queryKey: ['service', serviceId],
    queryFn: () => ok(api.GET('/v1/services/{service_id}', path)),
    refetchInterval: (q) => (['deploying', 'stopping'].includes(q.state.data?.status ?? '') ? 2000 : false),
  });
  const events = useQuery({ queryKey: ['service', serviceId, 'events'], queryFn: () => ok(api.GET('/v1/services/{service_id}/events', path)) });
  const logs = useQuery({ queryKey: ['service', serviceId, 'logs'], queryFn: () => ok(api.GET('/v1/services/{service_id}/logs', path)) });
  const startStop = useStartStop(service.data);
  const s = service.data;
  if (!s) return <ErrorBox error={service.error} />;
  const logItems = ((logs.data as { items?: Record<string, unknown>[] } | undefined)?.items ?? []);
  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{s.service_name}</h1>
          <p className="muted"><StatusBadge status={s.status} /> · {s.status === 'running' ? <Countdown due={s.due_time} /> : 'not running'} · {s.invocation_times} calls, {s.failed_times} failed</p>
        </div>
        <div className="actions">
          {s.status === 'running' || s.status === 'concerning' ? <button onClick={() => startStop.mutate('stopped')}>Stop</button> : null}
          {s.status === 'stopped' || s.status === 'failed' ? <button className="primary" onClick={() => startStop.mutate('running')}>Start</button> : null}
        </div>
      </div>
      <ErrorBox error={startStop.error} />
      {s.error_msg ? <p className="field-error">{s.error_msg}</p> : null}
      <div className="grid-2">
        <div className="card">
          <h3>Versions and traffic</h3>
          <table className="table compact">
            <thead><tr><th>AI application</th><th>Version</th><th>Traffic</th><th>Specification</th><th>Nodes</th></tr></thead>
            <tbody>{s.config.map((c) => <tr key={`${c.model_id}-${c.model_version}`}><td>{c.model_name}</td><td>{c.model_version}</td><td>{c.weight}%</td><td>{c.specification}</td><td>{c.instance_count}</td></tr>)}</tbody>
          </table>
          <dl className="facts">
            <dt>API</dt><dd><code>POST {s.access_address?.startsWith('http') ? s.access_address : `${window.location.origin}${s.access_address ?? `/v1/infers/${s.service_id}`}`}</code></dd>
            <dt>Auto stop</dt><dd>{s.schedule?.length ? `${s.schedule[0].duration} h after start` : 'off'}</dd>
            <dt>Published</dt><dd>{formatTime(s.publish_at)}</dd>
          </dl>
        </div>
        <div className="card">
          <h3>Events</h3>
          <ul className="events">{events.data?.items.map((e, i) => <li key={i}><span className="muted">{formatTime(e.occur_time)}</span> <b>{e.event_type}</b> {e.event_info}</li>)}</ul>
          <h3>Update logs</h3>
          <ul className="events">{logItems.map((l, i) => <li key={i}><code>{JSON.stringify(l)}</code></li>)}</ul>
        </div>
      </div>
    </section>
  );
}
