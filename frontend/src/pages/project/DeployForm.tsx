import { useMemo, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ok, type Project } from '../../api/client';
import { ErrorBox, Field } from '../../components/ui';

type AutoStop = '1' | '2' | '4' | '6' | 'custom' | 'off';

/** Deploy Service: versions with traffic ratios (sum 100), specification, nodes 1–5, auto stop. */
export function DeployForm({ project }: { project: Project }) {
  const queryClient = useQueryClient();
  const versions = useQuery({
    queryKey: ['models', project.model_id, 'versions'],
    enabled: !!project.model_id,
    queryFn: () => ok(api.GET('/v1/models/{model_id}/versions', { params: { path: { model_id: project.model_id! } } })),
  });
  const specs = useQuery({ queryKey: ['specifications'], queryFn: () => ok(api.GET('/v1/services/specifications')) });
  const latest = versions.data?.items[0]?.model_version;
  const [weights, setWeights] = useState<Record<string, number>>({});
  const chosen = useMemo(() => (Object.keys(weights).length ? weights : latest ? { [latest]: 100 } : {}), [weights, latest]);
  const [spec, setSpec] = useState('modelarts.vm.cpu.2u');
  const [nodes, setNodes] = useState(1);
  const [autoStop, setAutoStop] = useState<AutoStop>('1');
  const [customHours, setCustomHours] = useState(3);
  const sum = Object.values(chosen).reduce((a, b) => a + b, 0);
  const hours = autoStop === 'custom' ? customHours : Number(autoStop);
  const problems = [
    sum !== 100 ? `The traffic ratios sum to ${sum}, not 100` : null,
    autoStop === 'custom' && !(hours >= 1 && hours <= 24) ? 'Custom auto stop: 1–24 hours' : null,
  ].filter(Boolean);

  const deploy = useMutation({
    mutationFn: async () => {
      const config = Object.entries(chosen).map(([model_version, weight]) => ({
        model_id: project.model_id!, model_version, weight, specification: spec, instance_count: nodes,
      }));
      // ModelArts' shape: a list of one (ADR 0022); off: left out here, then switched off below
      const schedule = autoStop === 'off' ? null : [{ type: 'stop' as const, time_unit: 'HOURS' as const, duration: hours }];
      const path = { params: { path: { project_id: project.id } } };
      const result = await ok(api.POST('/v1/projects/{project_id}/workflow/deploy', { ...path, body: { config, schedule } }));
      if (autoStop === 'off') await turnOffAutoStop(project.id);
      return result;
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['project', project.id] }),
  });
  const toggle = (version: string, on: boolean) => {
    const next = { ...chosen };
    if (on) next[version] = 0;
    else delete next[version];
    setWeights(next);
  };

  return (
    <form className="card form" aria-label="Deploy" onSubmit={(e) => { e.preventDefault(); deploy.mutate(); }}>
      <h3>Deploy Service</h3>
      <table className="table compact">
        <thead><tr><th /><th>AI application version</th><th>Traffic ratio (%)</th></tr></thead>
        <tbody>
          {versions.data?.items.map((v) => (
            <tr key={v.model_version}>
              <td><input type="checkbox" aria-label={`use ${v.model_version}`} checked={v.model_version in chosen} onChange={(e) => toggle(v.model_version, e.target.checked)} /></td>
              <td>{v.model_version}</td>
              <td>
                <input type="number" min={0} max={100} aria-label={`weight ${v.model_version}`} disabled={!(v.model_version in chosen)}
                  value={chosen[v.model_version] ?? ''} onChange={(e) => setWeights({ ...chosen, [v.model_version]: Number(e.target.value) })} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Field label="Specifications">
        <select name="specification" value={spec} onChange={(e) => setSpec(e.target.value)}>
          {specs.data?.items.map((s) => (
            <option key={s.specification} value={s.specification} disabled={!s.is_open}>
              {s.display_en}{s.is_open ? '' : ' (unavailable)'}
            </option>
          ))}
        </select>
      </Field>
      <div className="row">
        <Field label="Compute nodes" hint="1–5">
          <input name="nodes" type="number" min={1} max={5} value={nodes} onChange={(e) => setNodes(Math.max(1, Math.min(5, Number(e.target.value))))} />
        </Field>
        <Field label="Auto stop">
          <select name="autoStop" value={autoStop} onChange={(e) => setAutoStop(e.target.value as AutoStop)}>
            <option value="1">1 hour later</option>
            <option value="2">2 hours later</option>
            <option value="4">4 hours later</option>
            <option value="6">6 hours later</option>
            <option value="custom">Custom</option>
            <option value="off">Off</option>
          </select>
        </Field>
        {autoStop === 'custom' ? (
          <Field label="Hours" hint="1–24">
            <input type="number" min={1} max={24} value={customHours} onChange={(e) => setCustomHours(Number(e.target.value))} />
          </Field>
        ) : null}
      </div>
      {problems.map((p) => <p key={p} className="field-error">{p}</p>)}
      <ErrorBox error={deploy.error} />
      <div className="actions">
        <button className="primary" disabled={problems.length > 0 || deploy.isPending || !project.model_id}>Deploy</button>
      </div>
    </form>
  );
}

/** The workflow deploys with the default auto stop; "Off" is then set on the service itself. */
async function turnOffAutoStop(projectId: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const project = await ok(api.GET('/v1/projects/{project_id}', { params: { path: { project_id: projectId } } }));
    if (project.service_id) {
      await ok(api.PUT('/v1/services/{service_id}', { params: { path: { service_id: project.service_id } }, body: { schedule: [] } }));
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
