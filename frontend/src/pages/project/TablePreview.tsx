import { useQuery } from '@tanstack/react-query';
import { api, ok, sampleText, type Project } from '../../api/client';
import { ErrorBox } from '../../components/ui';

/** The first rows of a CSV, split with its quotes respected. */
export function parseCsv(text: string, rows = 10): string[][] {
  const out: string[][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '"' && quoted && line[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = !quoted;
      else if (c === ',' && !quoted) { cells.push(cell); cell = ''; }
      else cell += c;
    }
    cells.push(cell);
    out.push(cells);
    if (out.length > rows) break;
  }
  return out;
}

/** Predictive analytics: the table's columns and first rows, the label column marked. */
export function TablePreview({ project }: { project: Project }) {
  const ds = { params: { path: { dataset_id: project.dataset_id } } };
  const dataset = useQuery({ queryKey: ['dataset', project.dataset_id], queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}', ds)) });
  const files = useQuery({
    queryKey: ['samples', project.dataset_id, 'table'],
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/samples', { params: { ...ds.params, query: { limit: 1 } } })),
  });
  const first = files.data?.items[0];
  const rows = useQuery({
    queryKey: ['samples', project.dataset_id, 'rows', first?.sample_id],
    enabled: !!first,
    queryFn: async () => parseCsv(await sampleText(project.dataset_id, first!.sample_id)),
  });
  const schema = dataset.data?.table_schema ?? [];
  const labelColumn = project.label_column ?? dataset.data?.label_column;
  const header = dataset.data?.with_column_header !== false;
  const body = rows.data ? (header ? rows.data.slice(1) : rows.data) : [];
  const names = schema.length ? schema.map((c) => c.name) : rows.data?.[0] ?? [];
  return (
    <div className="card">
      <h3>Data preview</h3>
      <p className="muted">
        {dataset.data?.row_count ?? 0} rows · {names.length} columns · label column <b data-testid="label-column">{labelColumn}</b> ({project.label_type ?? 'discrete'})
      </p>
      <div className="table-scroll">
        <table className="table compact">
          <thead>
            <tr>{names.map((n, i) => <th key={n} className={n === labelColumn ? 'label-col' : ''}>{n}<br /><small>{schema[i]?.type ?? ''}</small></th>)}</tr>
          </thead>
          <tbody>
            {body.map((r, i) => <tr key={i}>{r.map((c, j) => <td key={j} className={names[j] === labelColumn ? 'label-col' : ''}>{c}</td>)}</tr>)}
          </tbody>
        </table>
      </div>
      {!first && files.data ? <p className="empty">No table yet: upload a CSV file or synchronize the data source.</p> : null}
      <ErrorBox error={dataset.error ?? rows.error} />
    </div>
  );
}
