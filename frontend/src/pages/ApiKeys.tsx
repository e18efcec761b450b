import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, ok } from '../api/client';
import { ErrorBox, Field, formatTime } from '../components/ui';

type Role = 'admin' | 'developer' | 'viewer';

export function ApiKeys() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ['keys'], queryFn: () => ok(api.GET('/v1/api-keys')), retry: false });
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('developer');
  const [created, setCreated] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/api-keys', { body: { name, roles: [role] } })),
    onSuccess: (key) => {
      setCreated(key.key);
      setName('');
      void queryClient.invalidateQueries({ queryKey: ['keys'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => ok(api.DELETE('/v1/api-keys/{key_id}', { params: { path: { key_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['keys'] }),
  });
  if (keys.error instanceof ApiError && keys.error.status === 403) {
    return (
      <section>
        <h1>API Keys</h1>
        <p className="notice">Only admin keys manage API keys.</p>
      </section>
    );
  }
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  return (
    <section>
      <h1>API Keys</h1>
      <div className="card">
        <h3>Create a key</h3>
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Field label="Name" error={fields.name}>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-pipeline" />
          </Field>
          <Field label="Role" error={fields.roles}>
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="admin">admin</option>
              <option value="developer">developer</option>
              <option value="viewer">viewer (read and predict)</option>
            </select>
          </Field>
          <button className="primary">Create</button>
        </form>
        {created ? (
          <p className="notice">
            New key (shown once): <code data-testid="new-key">{created}</code>
          </p>
        ) : null}
        {!Object.keys(fields).length ? <ErrorBox error={create.error} /> : null}
      </div>
      <table className="table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Prefix</th>
            <th>Roles</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.data?.items.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>
                <code>{k.key_prefix}…</code>
              </td>
              <td>{k.roles.join(', ')}</td>
              <td>{formatTime(k.created_at)}</td>
              <td>{formatTime(k.last_used_at)}</td>
              <td>{k.revoked_at ? 'revoked' : 'active'}</td>
              <td>
                {!k.revoked_at ? (
                  <button className="link danger" onClick={() => confirm(`Revoke ${k.name}?`) && revoke.mutate(k.id)}>
                    Revoke
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorBox error={keys.error ?? revoke.error} />
    </section>
  );
}
