import { useEffect, useState } from 'react';
import { Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { useQueryClient } from '@tanstack/react-query';
import { session } from './api/client';
import { streamEvents } from './api/events';
import { Layout } from './components/Layout';
import { SignIn } from './pages/SignIn';
import { ApiKeys } from './pages/ApiKeys';
import { Projects } from './pages/Projects';
import { ProjectCreate } from './pages/ProjectCreate';
import { ProjectPage } from './pages/ProjectPage';
import { Models } from './pages/Models';
import { Services, ServiceDetail } from './pages/Services';

// Which cached queries an event makes stale (the pages then refetch what they show).
const INVALIDATES: [string, string[]][] = [
  ['workflow.', ['project', 'projects']],
  ['training.', ['job', 'project']],
  ['inference.', ['service', 'services', 'project']],
  ['registry.', ['models', 'project']],
  ['dataset.', ['samples', 'dataset', 'stats', 'imports']],
  ['labeling.', ['samples', 'stats', 'labels', 'annotations']],
];

function useLiveEvents(signedIn: boolean) {
  const queryClient = useQueryClient();
  useEffect(() => {
    if (!signedIn) return;
    const abort = new AbortController();
    void streamEvents((event) => {
      for (const [prefix, keys] of INVALIDATES) {
        if (event.type.startsWith(prefix)) keys.forEach((key) => queryClient.invalidateQueries({ queryKey: [key] }));
      }
    }, abort.signal);
    return () => abort.abort();
  }, [signedIn, queryClient]);
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => session.key() !== null);
  const [expired, setExpired] = useState(false);
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  useEffect(() => {
    session.onUnauthorized(() => {
      session.signOut();
      queryClient.clear();
      setSignedIn(false);
      setExpired(true);
      navigate('/signin');
    });
  }, [navigate, queryClient]);
  useLiveEvents(signedIn);

  if (!signedIn) {
    return (
      <Routes>
        <Route path="/signin" element={<SignIn expired={expired} onSignedIn={() => { setExpired(false); setSignedIn(true); }} />} />
        <Route path="*" element={<Navigate to="/signin" replace state={{ from: location.pathname }} />} />
      </Routes>
    );
  }
  const signOut = () => {
    session.signOut();
    queryClient.clear();
    setSignedIn(false);
  };
  return (
    <Layout onSignOut={signOut}>
      <Routes>
        <Route path="/" element={<Navigate to="/projects" replace />} />
        <Route path="/signin" element={<Navigate to="/projects" replace />} />
        <Route path="/projects" element={<Projects />} />
        <Route path="/projects/new" element={<ProjectCreate />} />
        <Route path="/projects/:projectId/*" element={<ProjectPage />} />
        <Route path="/models" element={<Models />} />
        <Route path="/services" element={<Services />} />
        <Route path="/services/:serviceId" element={<ServiceDetail />} />
        <Route path="/keys" element={<ApiKeys />} />
        <Route path="*" element={<p className="empty">No such page.</p>} />
      </Routes>
    </Layout>
  );
}
