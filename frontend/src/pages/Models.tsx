import { Fragment, useState } from 'react';
import { Link } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { api, authHeaders, ok, TYPE_TITLE } from '../api/client';
import { ErrorBox, formatTime, StatusBadge } from '../components/ui';

function Versions({ modelId }: { modelId: string }) {
  const versions = useQuery({ queryKey: ['models', modelId, 'versions'], queryFn: () => ok(api.GET('/v1/models/{model_id}/versions', { params: { path: { model_id: modelId } } })) });
  return (
    <table className="table compact nested">
      <thead><tr><th>Version</th><th>Status</th><th>Metrics</th><th>Size</th><th>Created</th><th /></tr></thead>
      <tbody>
        {versions.data?.items.map((v) => (
          <tr key={v.model_version}>
            <td>{v.model_version}</td>
            <td><StatusBadge status={v.model_status} /></td>
            <td>{Object.entries(v.metrics ?? {}).filter(([, x]) => typeof x === 'number').slice(0, 4).map(([k, x]) => `${k} ${(x as number).toFixed(3)}`).join(' · ')}</td>
            <td>{(v.model_size / 1024).toFixed(0)} KiB</td>
            <td>{formatTime(v.created_at)}</td>
            <td><a href={`/v1/models/${modelId}/versions/${v.model_version}/export`} onClick={(e) => { e.preventDefault(); void download(modelId, v.model_version); }}>Export</a></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

async function download(modelId: string, version: string) {
  const response = await fetch(`/v1/models/${modelId}/versions/${version}/export`, { headers: authHeaders() });
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = `model-${version}.tar.gz`;
  a.click();
  URL.revokeObjectURL(url);
}

export function Models() {
  const models = useQuery({ queryKey: ['models'], queryFn: () => ok(api.GET('/v1/models')) });
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section>
      <h1>AI Applications</h1>
      <table className="table">
        <thead><tr><th>Name</th><th>Type</th><th>Latest version</th><th>Versions</th><th>Project</th><th>Updated</th></tr></thead>
        <tbody>
          {models.data?.items.map((m) => (
            <Fragment key={m.model_id}>
              <tr className="clickable" onClick={() => setOpen(open === m.model_id ? null : m.model_id)}>
                <td>{open === m.model_id ? '▾' : '▸'} {m.model_name}</td>
                <td>{TYPE_TITLE[m.task_type as keyof typeof TYPE_TITLE] ?? m.task_type}</td>
                <td>{m.latest_version?.model_version ?? '—'}</td>
                <td>{m.version_count}</td>
                <td>{m.project_id ? <Link to={`/projects/${m.project_id}`} onClick={(e) => e.stopPropagation()}>open</Link> : '—'}</td>
                <td>{formatTime(m.updated_at)}</td>
              </tr>
              {open === m.model_id ? <tr><td colSpan={6}><Versions modelId={m.model_id} /></td></tr> : null}
            </Fragment>
          ))}
        </tbody>
      </table>
      {models.data?.total === 0 ? <p className="empty">No AI application yet: a project registers one after training.</p> : null}
      <ErrorBox error={models.error} />
    </section>
  );
}
