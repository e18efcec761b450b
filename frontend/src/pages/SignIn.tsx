import { useState, type FormEvent } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { api, ApiError, ok, session } from '../api/client';

export function SignIn({ onSignedIn, expired }: { onSignedIn: () => void; expired: boolean }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const state = (useLocation().state ?? {}) as { from?: string };

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    session.signIn(key.trim());
    try {
      await ok(api.GET('/v1/projects', { params: { query: { limit: 1 } } }));
      onSignedIn();
      navigate(state.from && state.from !== '/signin' ? state.from : '/projects', { replace: true });
    } catch (err) {
      session.signOut();
      setError(err instanceof ApiError ? err.message : 'the platform does not answer');
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="signin">
      <form className="card signin-card" onSubmit={submit}>
        <div className="brand big">
          <span className="logo">◆</span> ExeML
        </div>
        <p className="muted">Code-free AutoML: label, train and deploy models from your browser.</p>
        {expired ? <p className="notice">Your API key was refused. Sign in again.</p> : null}
        <label className="field">
          <span className="field-label">API key</span>
          <input
            type="password"
            name="apiKey"
            autoFocus
            placeholder="exeml_…"
            value={key}
            onChange={(e) => setKey(e.target.value)}
          />
        </label>
        {error ? (
          <p className="field-error" role="alert">
            {error}
          </p>
        ) : null}
        <button className="primary" disabled={!key.trim() || busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="hint">
          The key is kept in this browser tab only. `make run` prints where the first admin key is.
        </p>
      </form>
    </div>
  );
}
