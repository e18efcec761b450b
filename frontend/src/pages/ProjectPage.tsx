import { NavLink, Route, Routes, useParams } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { api, ok, TYPE_TITLE, type Project } from '../api/client';
import { ErrorBox, StatusBadge } from '../components/ui';
import { Pipeline } from './project/Pipeline';
import { DataTab } from './project/DataTab';
import { LabelingTab } from './project/LabelingTab';
import { TrainingTab } from './project/TrainingTab';
import { PredictionTab } from './project/PredictionTab';

export function useProject(projectId: string) {
  return useQuery({
    queryKey: ['project', projectId],
    queryFn: () => ok(api.GET('/v1/projects/{project_id}', { params: { path: { project_id: projectId } } })),
    // SSE invalidates it on every phase change; the poll only keeps progress moving between events.
    refetchInterval: (q) => (q.state.data?.status === 'running' ? 3000 : false),
  });
}

export function ProjectPage() {
  const { projectId = '' } = useParams();
  const project = useProject(projectId);
  if (!project.data) return <ErrorBox error={project.error} />;
  const p: Project = project.data;
  const labeled = p.project_type !== 'predictive_analytics';
  const base = `/projects/${p.id}`;
  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{p.name}</h1>
          <p className="muted">
            {TYPE_TITLE[p.project_type]} · round {p.rounds} · <StatusBadge status={p.status} />
            {p.description ? ` · ${p.description}` : ''}
          </p>
        </div>
      </div>
      <nav className="tabs">
        <NavLink end to={base}>Overview</NavLink>
        <NavLink to={`${base}/data`}>Data</NavLink>
        {labeled ? <NavLink to={`${base}/label`}>Labeling</NavLink> : null}
        <NavLink to={`${base}/training`}>Training</NavLink>
        <NavLink to={`${base}/predict`}>Prediction</NavLink>
      </nav>
      <Routes>
        <Route index element={<Pipeline project={p} />} />
        <Route path="data" element={<DataTab project={p} />} />
        <Route path="label" element={<LabelingTab project={p} />} />
        <Route path="training" element={<TrainingTab project={p} />} />
        <Route path="predict" element={<PredictionTab project={p} />} />
      </Routes>
    </section>
  );
}
