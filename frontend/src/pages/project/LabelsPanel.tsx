import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, ok, type ProjectType } from '../../api/client';
import { ErrorBox, Modal } from '../../components/ui';

// Distinct colours offered to new labels, in turn.
const PALETTE = ['#3399ff', '#ff6600', '#33cc33', '#cc33ff', '#ffcc00', '#ff3366', '#00cccc', '#996633'];

const POLICIES = [
  { value: 0, text: 'Delete the label only' },
  { value: 1, text: 'Delete the label and the samples that only have it' },
  { value: 2, text: 'Delete the label, those samples and their source files' },
] as const;

export function useStats(datasetId: string) {
  return useQuery({
    queryKey: ['stats', datasetId],
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/annotations/stats', { params: { path: { dataset_id: datasetId } } })),
  });
}

interface Editing { name: string; newName: string; color: string; shortcut: string }

/** "All Labels": each label's objects and samples; add, rename, recolour, shortcut, delete with a policy. */
export function LabelsPanel({ datasetId, projectType }: { datasetId: string; projectType: ProjectType }) {
  const queryClient = useQueryClient();
  const stats = useStats(datasetId);
  const [name, setName] = useState('');
  const [picked, setColor] = useState<string | null>(null);
  const color = picked ?? PALETTE[(stats.data?.label_stats.length ?? 0) % PALETTE.length];
  const [shortcut, setShortcut] = useState('');
  const [editing, setEditing] = useState<Editing | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [policy, setPolicy] = useState<0 | 1 | 2>(0);
  const path = { dataset_id: datasetId };
  const refresh = () => ['stats', 'labels', 'samples', 'annotations'].forEach((k) => queryClient.invalidateQueries({ queryKey: [k] }));
  const add = useMutation({
    mutationFn: () => ok(api.POST('/v1/datasets/{dataset_id}/labels', { params: { path }, body: { name, color, shortcut: shortcut || undefined } })),
    onSuccess: () => { setName(''); setShortcut(''); setColor(null); refresh(); },
  });
  const update = useMutation({
    mutationFn: (e: Editing) => ok(api.PUT('/v1/datasets/{dataset_id}/labels/{name}', {
      params: { path: { ...path, name: e.name } },
      body: { name: e.newName !== e.name ? e.newName : undefined, color: e.color, shortcut: e.shortcut || undefined },
    })),
    onSuccess: () => { setEditing(null); refresh(); },
  });
  const remove = useMutation({
    mutationFn: (label: string) => ok(api.DELETE('/v1/datasets/{dataset_id}/labels/{name}', {
      params: { path: { ...path, name: label }, query: { delete_policy: policy } },
    })),
    onSuccess: () => { setDeleting(null); refresh(); },
  });
  const s = stats.data?.sample_stats;
  const addErrors = add.error instanceof ApiError ? add.error.fieldErrors() : {};
  return (
    <aside className="card side">
      <h3>All Labels</h3>
      {s ? <p className="muted">{s.labeled} labeled · {s.unlabeled} unlabeled · {s.total} in all</p> : null}
      <table className="table compact">
        <thead><tr><th>Label</th><th>Objects</th><th>Samples</th>{projectType === 'sound_classification' ? <th>Key</th> : null}<th /></tr></thead>
        <tbody>
          {stats.data?.label_stats.map((l) => (
            <tr key={l.name}>
              <td><span className="swatch" style={{ background: l.color ?? '#999' }} /> {l.name}</td>
              <td>{l.count}</td>
              <td>{l.sample_count}</td>
              {projectType === 'sound_classification' ? <td>{l.shortcut ?? ''}</td> : null}
              <td className="nowrap">
                <button className="link" aria-label={`edit ${l.name}`} onClick={() => setEditing({ name: l.name, newName: l.name, color: l.color ?? '#3399ff', shortcut: l.shortcut ?? '' })}>✎</button>
                <button className="link danger" aria-label={`delete ${l.name}`} onClick={() => setDeleting(l.name)}>✕</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline-form" onSubmit={(e) => { e.preventDefault(); add.mutate(); }}>
        <input aria-label="New label" placeholder="New label" value={name} onChange={(e) => setName(e.target.value)} />
        <input aria-label="Colour" type="color" value={color} onChange={(e) => setColor(e.target.value)} />
        {projectType === 'sound_classification' ? (
          <input aria-label="New label shortcut" placeholder="Key" maxLength={1} className="key-input" value={shortcut} onChange={(e) => setShortcut(e.target.value)} />
        ) : null}
        <button disabled={!name}>Add</button>
      </form>
      {addErrors.name ? <p className="field-error">{addErrors.name}</p> : <ErrorBox error={add.error} />}
      {editing ? (
        <Modal title={`Edit label ${editing.name}`} onClose={() => setEditing(null)}>
          <form className="form" onSubmit={(e) => { e.preventDefault(); update.mutate(editing); }}>
            <label className="field"><span className="field-label">Name</span>
              <input aria-label="Label name" value={editing.newName} onChange={(e) => setEditing({ ...editing, newName: e.target.value })} /></label>
            <label className="field"><span className="field-label">Colour</span>
              <input type="color" value={editing.color} onChange={(e) => setEditing({ ...editing, color: e.target.value })} /></label>
            {projectType === 'sound_classification' ? (
              <label className="field"><span className="field-label">Shortcut key</span>
                <input aria-label="Shortcut" maxLength={1} value={editing.shortcut} onChange={(e) => setEditing({ ...editing, shortcut: e.target.value })} /></label>
            ) : null}
            <ErrorBox error={update.error} />
            <div className="actions"><button className="primary">OK</button></div>
          </form>
        </Modal>
      ) : null}
      {deleting ? (
        <Modal title={`Delete label ${deleting}`} onClose={() => setDeleting(null)}>
          {POLICIES.map((p) => (
            <label key={p.value} className="radio">
              <input type="radio" name="policy" checked={policy === p.value} onChange={() => setPolicy(p.value)} /> {p.text}
            </label>
          ))}
          <ErrorBox error={remove.error} />
          <div className="actions"><button className="danger" onClick={() => remove.mutate(deleting)}>Delete</button></div>
        </Modal>
      ) : null}
    </aside>
  );
}
