import { useState } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ok, type Project } from '../../api/client';
import { ErrorBox, Pager, ProgressBar } from '../../components/ui';
import { SampleThumb } from '../../components/SampleThumb';
import { LabelsPanel } from './LabelsPanel';
import { TablePreview } from './TablePreview';
import { uploadFiles, type UploadOutcome } from './upload';

function Sources({ datasetId }: { datasetId: string }) {
  const queryClient = useQueryClient();
  const [path, setPath] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const [outcome, setOutcome] = useState<UploadOutcome | null>(null);
  const ds = { params: { path: { dataset_id: datasetId } } };
  const refresh = () => ['samples', 'stats', 'imports', 'dataset'].forEach((k) => queryClient.invalidateQueries({ queryKey: [k] }));
  const imports = useQuery({
    queryKey: ['imports', datasetId],
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/import-tasks', ds)),
    refetchInterval: (q) => (q.state.data?.items.some((t) => t.status === 'RUNNING' || t.status === 'QUEUED') ? 1500 : false),
  });
  const doImport = useMutation({
    mutationFn: () => ok(api.POST('/v1/datasets/{dataset_id}/import-tasks', { ...ds, body: { import_path: path || undefined } })),
    onSuccess: refresh,
  });
  const sync = useMutation({ mutationFn: () => ok(api.POST('/v1/datasets/{dataset_id}/sync', ds)), onSuccess: refresh });
  const upload = async (files: FileList | null) => {
    if (!files?.length) return;
    setOutcome(null);
    setProgress(0);
    const result = await uploadFiles(datasetId, Array.from(files), setProgress);
    setOutcome(result);
    setProgress(null);
    refresh();
  };
  const last = imports.data?.items[0];
  return (
    <div className="card">
      <h3>Add data</h3>
      <div className="inline-form">
        <label className="button primary file-button">
          Upload files
          <input type="file" multiple aria-label="Upload files" onChange={(e) => void upload(e.target.files)} />
        </label>
        <button onClick={() => sync.mutate()}>Synchronize Data Source</button>
        <input placeholder="s3://bucket/folder/ (default: the input path)" aria-label="Import path" value={path} onChange={(e) => setPath(e.target.value)} />
        <button onClick={() => doImport.mutate()}>Import</button>
      </div>
      {progress !== null ? <ProgressBar value={progress} label={`Uploading ${Math.round(progress)}%`} /> : null}
      {outcome ? (
        <div className={outcome.errors.length ? 'error-box' : 'notice'} role="status">
          {outcome.stored} file(s) stored.
          {outcome.errors.length ? ` ${outcome.errors.length} file(s) not stored:` : null}
          {outcome.errors.length ? (
            <ul aria-label="Files not stored">
              {outcome.errors.map((e, i) => (
                <li key={i}><b>{e.file ?? e.field}</b>: {e.msg} <code>{e.rule}</code></li>
              ))}
            </ul>
          ) : null}
          {outcome.warnings.length ? (
            <ul aria-label="Stored with a warning">
              {outcome.warnings.map((w, i) => (
                <li key={i}><b>{w.file}</b> (stored): {w.msg} <code>{w.rule}</code></li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      {last ? (
        <p className="muted">
          Last import ({last.kind}) {last.status.toLowerCase()}: {last.imported_sample_count} imported, {last.skipped_sample_count} skipped, {last.failed_sample_count} failed
          {last.errors.length ? ` — ${last.errors.slice(0, 3).map((e) => `${e.file}: ${e.msg}`).join('; ')}` : ''}
        </p>
      ) : null}
      <ErrorBox error={doImport.error ?? sync.error} />
    </div>
  );
}

type Tab = 'all' | 'labeled' | 'unlabeled';

function Gallery({ datasetId }: { datasetId: string }) {
  const queryClient = useQueryClient();
  const [tab, setTab] = useState<Tab>('all');
  const [label, setLabel] = useState('');
  const [offset, setOffset] = useState(0);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [deleteSource, setDeleteSource] = useState(false);
  const limit = 24;
  const query = { offset, limit, labeled: tab === 'all' ? undefined : tab === 'labeled', label_name: label || undefined };
  const samples = useQuery({
    queryKey: ['samples', datasetId, query],
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/samples', { params: { path: { dataset_id: datasetId }, query } })),
    placeholderData: keepPreviousData,
  });
  const labels = useQuery({
    queryKey: ['labels', datasetId],
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/labels', { params: { path: { dataset_id: datasetId } } })),
  });
  const remove = useMutation({
    mutationFn: () => ok(api.POST('/v1/datasets/{dataset_id}/samples/delete', {
      params: { path: { dataset_id: datasetId } }, body: { samples: [...selected], delete_source: deleteSource },
    })),
    onSuccess: () => {
      setSelected(new Set());
      ['samples', 'stats'].forEach((k) => queryClient.invalidateQueries({ queryKey: [k] }));
    },
  });
  const items = samples.data?.items ?? [];
  const allOnPage = items.length > 0 && items.every((s) => selected.has(s.sample_id));
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const switchTab = (t: Tab) => { setTab(t); setOffset(0); setSelected(new Set()); };
  return (
    <div className="card">
      <div className="gallery-head">
        <nav className="subtabs">
          {(['all', 'labeled', 'unlabeled'] as Tab[]).map((t) => (
            <button key={t} className={t === tab ? 'on' : ''} onClick={() => switchTab(t)}>
              {t === 'all' ? 'All' : t === 'labeled' ? 'Labeled' : 'Unlabeled'}
            </button>
          ))}
        </nav>
        <select aria-label="Label filter" value={label} onChange={(e) => { setLabel(e.target.value); setOffset(0); }}>
          <option value="">All labels</option>
          {labels.data?.items.map((l) => <option key={l.name}>{l.name}</option>)}
        </select>
        <label className="check">
          <input type="checkbox" checked={allOnPage} onChange={() => setSelected(allOnPage ? new Set() : new Set(items.map((s) => s.sample_id)))} /> Select Current Page
        </label>
        {selected.size ? (
          <span className="selection">
            {selected.size} selected
            <label className="check"><input type="checkbox" checked={deleteSource} onChange={(e) => setDeleteSource(e.target.checked)} /> also delete the source files</label>
            <button className="danger" onClick={() => remove.mutate()}>Delete</button>
          </span>
        ) : null}
      </div>
      <div className="gallery">
        {items.map((s) => (
          <figure key={s.sample_id} className={selected.has(s.sample_id) ? 'tile selected' : 'tile'} onClick={() => toggle(s.sample_id)}>
            <SampleThumb datasetId={datasetId} sample={s} />
            <figcaption>
              <span className="name">{s.sample_name.split('/').pop()}</span>
              <span className="labels">{s.labels.map((l) => <span key={l} className="tag">{l}</span>)}</span>
            </figcaption>
          </figure>
        ))}
      </div>
      {samples.data ? <Pager offset={offset} limit={limit} total={samples.data.total} onChange={(o) => { setOffset(o); setSelected(new Set()); }} /> : null}
      <ErrorBox error={samples.error ?? remove.error} />
    </div>
  );
}

export function DataTab({ project }: { project: Project }) {
  const datasetId = project.dataset_id;
  if (project.project_type === 'predictive_analytics') {
    return (
      <div>
        <Sources datasetId={datasetId} />
        <TablePreview project={project} />
      </div>
    );
  }
  return (
    <div className="grid-main-side">
      <div>
        <Sources datasetId={datasetId} />
        <Gallery datasetId={datasetId} />
      </div>
      <LabelsPanel datasetId={datasetId} projectType={project.project_type} />
    </div>
  );
}
