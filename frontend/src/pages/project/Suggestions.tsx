import { useEffect } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ok, type Project, type Suggestion } from '../../api/client';
import { ErrorBox, ProgressBar } from '../../components/ui';

/** The project's running service, if any (model-assisted labeling needs one). */
export function useRunningService(project: Project) {
  return useQuery({
    queryKey: ['service', project.service_id],
    enabled: !!project.service_id,
    queryFn: () => ok(api.GET('/v1/services/{service_id}', { params: { path: { service_id: project.service_id! } } })),
    select: (s) => (s.status === 'running' ? s : null),
  });
}

export function useSuggestions(datasetId: string) {
  return useQuery({
    queryKey: ['suggestions', datasetId],
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/suggestions', { params: { path: { dataset_id: datasetId }, query: { order: 'uncertainty', limit: 1000 } } })),
  });
}

/** Pre-label with the running service and follow the task. */
export function PrelabelPanel({ project, firstMode, onFirstMode }: { project: Project; firstMode: boolean; onFirstMode: (on: boolean) => void }) {
  const queryClient = useQueryClient();
  const service = useRunningService(project);
  const suggestions = useSuggestions(project.dataset_id);
  const ds = { dataset_id: project.dataset_id };
  const tasks = useQuery({
    queryKey: ['prelabel', project.dataset_id],
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/prelabel-tasks', { params: { path: ds, query: { limit: 1 } } })),
    refetchInterval: (q) => (q.state.data?.items.some((t) => t.status === 'pending' || t.status === 'running') ? 1000 : false),
  });
  const task = tasks.data?.items[0];
  const active = task && (task.status === 'pending' || task.status === 'running');
  const start = useMutation({
    mutationFn: () => ok(api.POST('/v1/datasets/{dataset_id}/prelabel-tasks', { params: { path: ds }, body: { service_id: project.service_id! } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['prelabel', project.dataset_id] }),
  });
  const finished = task && !active ? task.finished_at : null;
  useEffect(() => {
    // The task's suggestions arrive as it runs and when it ends.
    void queryClient.invalidateQueries({ queryKey: ['suggestions', project.dataset_id] });
  }, [finished, task?.processed_sample_count, project.dataset_id, queryClient]);
  const count = suggestions.data?.total ?? 0;
  if (!service.data && !count) {
    return <p className="muted prelabel">Model-assisted labeling: deploy a service of this project to get suggested labels.</p>;
  }
  return (
    <div className="prelabel card-inset">
      <strong>Model-assisted labeling</strong>
      {service.data ? (
        <button onClick={() => start.mutate()} disabled={!!active}>Pre-label unlabeled samples with {service.data.service_name}</button>
      ) : null}
      {active ? <ProgressBar value={(100 * (task.processed_sample_count + task.failed_sample_count)) / Math.max(1, task.total_sample_count)} label={`Pre-labeling ${task.processed_sample_count}/${task.total_sample_count}`} /> : null}
      {task?.status === 'failed' ? <span className="field-error">Pre-labeling failed: {task.error_msg}</span> : null}
      {count ? (
        <label className="check">
          <input type="checkbox" checked={firstMode} onChange={(e) => onFirstMode(e.target.checked)} /> Label these first: {count} suggestion(s), the most uncertain first
        </label>
      ) : null}
      <ErrorBox error={start.error} />
    </div>
  );
}

/** The model's suggestion for the sample on screen, to accept or reject. */
export function SuggestionBar({ suggestion, datasetId, onDone }: { suggestion: Suggestion; datasetId: string; onDone: (labels: string[] | null) => void }) {
  const queryClient = useQueryClient();
  const path = { dataset_id: datasetId, sample_id: suggestion.sample_id };
  const refresh = () => ['suggestions', 'stats', 'annotations'].forEach((k) => queryClient.invalidateQueries({ queryKey: [k] }));
  const accept = useMutation({
    mutationFn: () => ok(api.POST('/v1/datasets/{dataset_id}/suggestions/{sample_id}/accept', { params: { path } })),
    onSuccess: (result) => { refresh(); onDone(result.labels); },
  });
  const reject = useMutation({
    mutationFn: () => ok(api.DELETE('/v1/datasets/{dataset_id}/suggestions/{sample_id}', { params: { path } })),
    onSuccess: () => { refresh(); onDone(null); },
  });
  const shown = suggestion.predictions.map((p) => `${p.name} ${(p.score * 100).toFixed(0)}%`).join(', ') || 'no object found';
  return (
    <div className="suggestion" role="status" data-testid="suggestion">
      <span>Model suggests: <b>{shown}</b> <span className="muted">(uncertainty {suggestion.uncertainty.toFixed(2)})</span></span>
      <button className="primary" onClick={() => accept.mutate()}>Accept</button>
      <button onClick={() => reject.mutate()}>Reject</button>
      <ErrorBox error={accept.error ?? reject.error} />
    </div>
  );
}
