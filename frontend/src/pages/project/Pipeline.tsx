import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ok, type Phase, type Project } from '../../api/client';
import { ErrorBox, formatDuration, formatTime, ProgressBar, StatusBadge } from '../../components/ui';
import { DeployForm } from './DeployForm';

function PhaseCard({ phase, index, active }: { phase: Phase; index: number; active: boolean }) {
  const outputs = Object.entries(phase.outputs ?? {}).filter(([, v]) => typeof v !== 'object' || v === null);
  return (
    <li className={`phase phase-${phase.status} ${active ? 'active' : ''}`} data-testid={`phase-${phase.name}`}>
      <div className="phase-step">{index + 1}</div>
      <div className="phase-body">
        <div className="phase-title">
          <strong>{phase.title}</strong> <StatusBadge status={phase.status} />
        </div>
        <div className="phase-meta">
          Started {formatTime(phase.started_at)} · Duration {formatDuration(phase.duration_seconds)}
        </div>
        {phase.status === 'running' && phase.progress != null ? <ProgressBar value={phase.progress} /> : null}
        {outputs.length ? (
          <div className="phase-outputs">
            {outputs.slice(0, 6).map(([k, v]) => (
              <span key={k}>
                {k.replace(/_/g, ' ')}: <b>{String(v)}</b>
              </span>
            ))}
          </div>
        ) : null}
        {phase.error_msg ? <div className="field-error">{phase.error_msg}</div> : null}
      </div>
    </li>
  );
}

function Rounds({ project }: { project: Project }) {
  const queryClient = useQueryClient();
  const [incremental, setIncremental] = useState('');
  const path = { params: { path: { project_id: project.id } } };
  const rounds = useQuery({
    queryKey: ['project', project.id, 'rounds'],
    queryFn: () => ok(api.GET('/v1/projects/{project_id}/executions', path)),
  });
  const versions = useQuery({
    queryKey: ['models', project.model_id, 'versions'],
    enabled: !!project.model_id,
    queryFn: () => ok(api.GET('/v1/models/{model_id}/versions', { params: { path: { model_id: project.model_id! } } })),
  });
  const start = useMutation({
    mutationFn: () =>
      ok(api.POST('/v1/projects/{project_id}/executions', {
        ...path,
        body: { training_params: incremental ? { incremental_training_version: incremental } : {} },
      })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['project', project.id] }),
  });
  return (
    <div className="card">
      <h3>Rounds</h3>
      <table className="table compact">
        <thead><tr><th>Round</th><th>Status</th><th>Started</th><th>Ended</th></tr></thead>
        <tbody>
          {rounds.data?.map((r) => (
            <tr key={r.id}><td>{r.round}</td><td><StatusBadge status={r.status} /></td><td>{formatTime(r.created_at)}</td><td>{formatTime(r.ended_at)}</td></tr>
          ))}
        </tbody>
      </table>
      {project.status !== 'running' ? (
        <div className="inline-form">
          <label className="field">
            <span className="field-label">Incremental training from</span>
            <select value={incremental} onChange={(e) => setIncremental(e.target.value)}>
              <option value="">— train from scratch —</option>
              {versions.data?.items.map((v) => <option key={v.model_version}>{v.model_version}</option>)}
            </select>
          </label>
          <button onClick={() => start.mutate()}>Start a new round</button>
        </div>
      ) : null}
      <ErrorBox error={start.error} />
    </div>
  );
}

export function Pipeline({ project }: { project: Project }) {
  const queryClient = useQueryClient();
  const phases = project.execution?.phases ?? [];
  const current = phases.find((p) => p.name === project.current_phase);
  const path = { params: { path: { project_id: project.id } } };
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['project', project.id] });
  const next = useMutation({ mutationFn: () => ok(api.POST('/v1/projects/{project_id}/workflow/next', path)), onSuccess: refresh });
  const retry = useMutation({ mutationFn: () => ok(api.POST('/v1/projects/{project_id}/workflow/retry', path)), onSuccess: refresh });
  const stop = useMutation({ mutationFn: () => ok(api.POST('/v1/projects/{project_id}/workflow/stop', path)), onSuccess: refresh });
  const failed = phases.some((p) => p.status === 'failed' || p.status === 'stopped');
  return (
    <div className="grid-2">
      <div className="card">
        <h3>Workflow</h3>
        <ol className="pipeline">
          {phases.map((phase, i) => <PhaseCard key={phase.name} phase={phase} index={i} active={phase.name === project.current_phase} />)}
        </ol>
        <div className="actions">
          {current?.name === 'label_data' && current.status === 'awaiting_operation' ? (
            <>
              <Link className="button" to={`/projects/${project.id}/label`}>Instance Details</Link>
              <button className="primary" onClick={() => next.mutate()}>Next</button>
            </>
          ) : null}
          {failed ? <button className="primary" onClick={() => retry.mutate()}>Retry</button> : null}
          {current?.status === 'running' ? <button onClick={() => stop.mutate()}>Stop</button> : null}
          {project.service_id ? <Link className="button" to={`/services/${project.service_id}`}>Service details</Link> : null}
        </div>
        <ErrorBox error={next.error ?? retry.error ?? stop.error} />
      </div>
      <div>
        {current?.name === 'deploy_service' && current.status === 'awaiting_input' ? <DeployForm project={project} /> : null}
        <Rounds project={project} />
      </div>
    </div>
  );
}
