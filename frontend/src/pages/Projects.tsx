import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ok, TYPE_TITLE, type Project, type ProjectType } from '../api/client';
import { ErrorBox, formatTime, Pager, StatusBadge } from '../components/ui';

const PHASES = ['label_data', 'publish_dataset', 'check_data', 'train', 'register_model', 'deploy_service'] as const;
const STATUSES = ['init', 'running', 'completed', 'stopped', 'abnormal'] as const;
type SortBy = 'name' | 'created_at' | 'updated_at' | 'status' | 'project_type';

function currentPhase(p: Project): string {
  const phase = p.execution?.phases.find((x) => x.name === p.current_phase);
  if (phase) return `${phase.title} · ${phase.status.replace(/_/g, ' ')}`;
  return p.current_phase ? p.current_phase.replace(/_/g, ' ') : '—';
}

export function Projects() {
  const [search, setSearch] = useState('');
  const [type, setType] = useState<ProjectType | ''>('');
  const [status, setStatus] = useState<(typeof STATUSES)[number] | ''>('');
  const [phase, setPhase] = useState<(typeof PHASES)[number] | ''>('');
  const [tag, setTag] = useState('');
  const [sortBy, setSortBy] = useState<SortBy>('created_at');
  const [order, setOrder] = useState<'asc' | 'desc'>('desc');
  const [offset, setOffset] = useState(0);
  const limit = 20;
  const query = {
    search: search || undefined, project_type: type || undefined, status: status || undefined,
    phase: phase || undefined, tag: tag || undefined, sort_by: sortBy, order, offset, limit,
  };
  const projects = useQuery({
    queryKey: ['projects', query],
    queryFn: () => ok(api.GET('/v1/projects', { params: { query } })),
    placeholderData: keepPreviousData,
  });
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: (id: string) => ok(api.DELETE('/v1/projects/{project_id}', { params: { path: { project_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['projects'] }),
  });
  const sort = (by: SortBy) => {
    setOrder(sortBy === by && order === 'desc' ? 'asc' : 'desc');
    setSortBy(by);
  };
  const arrow = (by: SortBy) => (sortBy === by ? (order === 'desc' ? ' ↓' : ' ↑') : '');

  return (
    <section>
      <div className="page-head">
        <h1>ExeML Projects</h1>
        <button className="primary" onClick={() => navigate('/projects/new')}>
          + Create Project
        </button>
      </div>
      <div className="filters">
        <input placeholder="Search by name" aria-label="Search" value={search} onChange={(e) => { setSearch(e.target.value); setOffset(0); }} />
        <select aria-label="Type" value={type} onChange={(e) => setType(e.target.value as ProjectType | '')}>
          <option value="">All types</option>
          {Object.entries(TYPE_TITLE).map(([k, v]) => (
            <option key={k} value={k}>{v}</option>
          ))}
        </select>
        <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
          <option value="">All statuses</option>
          {STATUSES.map((s) => <option key={s}>{s}</option>)}
        </select>
        <select aria-label="Phase" value={phase} onChange={(e) => setPhase(e.target.value as typeof phase)}>
          <option value="">All phases</option>
          {PHASES.map((s) => <option key={s} value={s}>{s.replace(/_/g, ' ')}</option>)}
        </select>
        <input placeholder="Tag" aria-label="Tag" value={tag} onChange={(e) => setTag(e.target.value)} />
      </div>
      <table className="table">
        <thead>
          <tr>
            <th className="sortable" onClick={() => sort('name')}>Name{arrow('name')}</th>
            <th className="sortable" onClick={() => sort('project_type')}>Type{arrow('project_type')}</th>
            <th className="sortable" onClick={() => sort('status')}>Status{arrow('status')}</th>
            <th>Current phase</th>
            <th>Tags</th>
            <th className="sortable" onClick={() => sort('created_at')}>Created{arrow('created_at')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {projects.data?.items.map((p) => (
            <tr key={p.id}>
              <td><Link to={`/projects/${p.id}`}>{p.name}</Link></td>
              <td>{TYPE_TITLE[p.project_type]}</td>
              <td><StatusBadge status={p.status} /></td>
              <td>{currentPhase(p)}</td>
              <td>{p.tags.map((t) => <span key={t} className="tag">{t}</span>)}</td>
              <td>{formatTime(p.created_at)}</td>
              <td>
                <button className="link danger" onClick={() => confirm(`Delete project ${p.name}?`) && remove.mutate(p.id)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {projects.data && projects.data.total === 0 ? (
        <div className="empty">
          No project yet. <Link to="/projects/new">Create one</Link> from your images, sounds, texts or tables.
        </div>
      ) : null}
      {projects.data ? <Pager offset={offset} limit={limit} total={projects.data.total} onChange={setOffset} /> : null}
      <ErrorBox error={projects.error ?? remove.error} />
    </section>
  );
}
