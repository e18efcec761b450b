import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { api, ApiError, authHeaders, ok, type Project } from '../../api/client';
import { ErrorBox, StatusBadge } from '../../components/ui';
import { answerNumber, fromDetections } from '../../labeling/boxes';

type Answer = Record<string, unknown>;

/** The `curl` a user would type for the same prediction. */
export function curlFor(origin: string, serviceId: string, kind: 'image' | 'sound' | 'json', body?: unknown, file?: string): string {
  const head = `curl -X POST '${origin}/v1/infers/${serviceId}' \\\n  -H "Authorization: Bearer $EXEML_API_KEY"`;
  if (kind === 'json') return `${head} \\\n  -H 'Content-Type: application/json' \\\n  -d '${JSON.stringify(body)}'`;
  return `${head} \\\n  -F '${kind === 'image' ? 'images' : 'sound'}=@${file ?? (kind === 'image' ? 'image.jpg' : 'sound.wav')}'`;
}

async function predict(serviceId: string, body: FormData | object): Promise<Answer> {
  const isForm = body instanceof FormData;
  const response = await fetch(`/v1/infers/${serviceId}`, {
    method: 'POST',
    headers: { ...authHeaders(), ...(isForm ? {} : { 'Content-Type': 'application/json' }) },
    body: isForm ? body : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw ApiError.from(response.status, json);
  return json as Answer;
}

/** The uploaded image with the answer's boxes drawn on it (original-image pixels). */
export function DetectionView({ url, answer }: { url: string; answer: Answer }) {
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const boxes = fromDetections(answer.detection_classes as string[], answer.detection_boxes as string[][], answer.detection_scores as string[]);
  return (
    <div className="detections">
      <img src={url} alt="uploaded" onLoad={(e) => setSize({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })} />
      {size ? (
        <svg viewBox={`0 0 ${size.w} ${size.h}`} preserveAspectRatio="none" data-testid="detections">
          {boxes.map((b) => (
            <g key={b.id}>
              <rect x={b.bndbox.xmin} y={b.bndbox.ymin} width={b.bndbox.xmax - b.bndbox.xmin} height={b.bndbox.ymax - b.bndbox.ymin} />
              <text x={b.bndbox.xmin + 2} y={b.bndbox.ymin + 10}>{b.name} {(b.score * 100).toFixed(0)}%</text>
            </g>
          ))}
        </svg>
      ) : null}
    </div>
  );
}

/** The predicted label and the top scores as bars. */
export function Scores({ answer }: { answer: Answer }) {
  const scores = ((answer.scores as [string, string | number][] | undefined) ?? []).map(([label, score]) => [label, answerNumber(score)] as const);
  return (
    <div>
      <p className="predicted">Predicted: <b data-testid="predicted-label">{String(answer.predicted_label)}</b></p>
      {scores.map(([label, score]) => (
        <div key={label} className="score-row">
          <span>{label}</span>
          <div className="progress small"><div className="progress-fill" style={{ width: `${score * 100}%` }} /></div>
          <span>{(score * 100).toFixed(1)}%</span>
        </div>
      ))}
    </div>
  );
}

function TableForm({ project, onSubmit }: { project: Project; onSubmit: (row: Record<string, unknown>) => void }) {
  const dataset = useQuery({ queryKey: ['dataset', project.dataset_id], queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}', { params: { path: { dataset_id: project.dataset_id } } })) });
  const columns = (dataset.data?.table_schema ?? []).filter((c) => c.name !== project.label_column);
  const [row, setRow] = useState<Record<string, string>>({});
  const value = (name: string, type: string) => {
    const raw = row[name] ?? '';
    return type === 'int' || type === 'float' ? (raw === '' ? null : Number(raw)) : raw;
  };
  return (
    <form className="form" onSubmit={(e) => { e.preventDefault(); onSubmit(Object.fromEntries(columns.map((c) => [c.name, value(c.name, c.type)]))); }}>
      <div className="row wrap">
        {columns.map((c) => (
          <label key={c.name} className="field">
            <span className="field-label">{c.name} <small>({c.type})</small></span>
            <input name={c.name} value={row[c.name] ?? ''} onChange={(e) => setRow({ ...row, [c.name]: e.target.value })} />
          </label>
        ))}
      </div>
      <button className="primary">Predict</button>
    </form>
  );
}

export function PredictionTab({ project }: { project: Project }) {
  const serviceId = project.service_id;
  const service = useQuery({
    queryKey: ['service', serviceId],
    enabled: !!serviceId,
    queryFn: () => ok(api.GET('/v1/services/{service_id}', { params: { path: { service_id: serviceId! } } })),
  });
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [imageUrl, setImageUrl] = useState<string | null>(null);
  const [text, setText] = useState('');
  const [curl, setCurl] = useState('');
  const type = project.project_type;
  const origin = window.location.origin;
  useEffect(() => () => { if (imageUrl) URL.revokeObjectURL(imageUrl); }, [imageUrl]);
  if (!serviceId) return <p className="empty">Deploy the model first: the Prediction tab calls its real-time service.</p>;
  const run = async (body: FormData | object, curlText: string) => {
    setBusy(true);
    setError(null);
    setAnswer(null);
    setCurl(curlText);
    try {
      setAnswer(await predict(serviceId, body));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const upload = (file: File | undefined, field: 'images' | 'sound') => {
    if (!file) return;
    const form = new FormData();
    form.append(field, file, file.name);
    if (field === 'images') setImageUrl(URL.createObjectURL(file));
    void run(form, curlFor(origin, serviceId, field === 'images' ? 'image' : 'sound', undefined, file.name));
  };
  const running = service.data?.status === 'running';
  return (
    <div className="grid-2">
      <div className="card">
        <h3>Prediction <StatusBadge status={service.data?.status} /></h3>
        {!running ? <p className="notice">The service is {service.data?.status ?? '…'}: <Link to={`/services/${serviceId}`}>start it</Link> to predict.</p> : null}
        {type === 'image_classification' || type === 'object_detection' ? (
          <label className="button primary file-button">Upload an image<input type="file" accept="image/*" aria-label="Image to predict" onChange={(e) => upload(e.target.files?.[0], 'images')} /></label>
        ) : null}
        {type === 'sound_classification' ? (
          <label className="button primary file-button">Upload a WAV file<input type="file" accept="audio/wav,.wav" aria-label="Sound to predict" onChange={(e) => upload(e.target.files?.[0], 'sound')} /></label>
        ) : null}
        {type === 'text_classification' ? (
          <form className="form" onSubmit={(e) => { e.preventDefault(); void run({ text }, curlFor(origin, serviceId, 'json', { text })); }}>
            <textarea aria-label="Text to predict" rows={4} value={text} onChange={(e) => setText(e.target.value)} placeholder="Type a text" />
            <button className="primary">Predict</button>
          </form>
        ) : null}
        {type === 'predictive_analytics' ? (
          <TableForm project={project} onSubmit={(row) => { const body = { data: { req_data: [row] } }; void run(body, curlFor(origin, serviceId, 'json', body)); }} />
        ) : null}
        {busy ? <p className="muted">Predicting…</p> : null}
        <ErrorBox error={error} />
        {curl ? (<><h4>The same with curl</h4><pre className="curl" data-testid="curl">{curl}</pre></>) : null}
      </div>
      <div className="card">
        <h3>Result</h3>
        {answer && type === 'object_detection' && imageUrl ? <DetectionView url={imageUrl} answer={answer} /> : null}
        {answer && type === 'image_classification' && imageUrl ? <img src={imageUrl} alt="uploaded" className="preview" /> : null}
        {answer && 'predicted_label' in answer ? <Scores answer={answer} /> : null}
        {answer ? <pre className="json" data-testid="prediction">{JSON.stringify(answer, null, 2)}</pre> : <p className="muted">No prediction yet.</p>}
      </div>
    </div>
  );
}
