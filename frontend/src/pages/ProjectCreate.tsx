import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { useMutation } from '@tanstack/react-query';
import { api, ApiError, ok, TYPE_TITLE, type ProjectType, type Schemas } from '../api/client';
import { ErrorBox, Field } from '../components/ui';

type Create = Schemas['workflow_ProjectCreate'];

const TYPE_HINT: Record<ProjectType, string> = {
  image_classification: 'Identify the class of objects in images',
  object_detection: 'Locate and identify objects in images',
  predictive_analytics: 'Predict a column of a table (CSV)',
  sound_classification: 'Identify sounds (WAV)',
  text_classification: 'Classify lines of text',
};

export function ProjectCreate() {
  const navigate = useNavigate();
  const [type, setType] = useState<ProjectType>('image_classification');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [inputPath, setInputPath] = useState('');
  const [outputPath, setOutputPath] = useState('');
  const [labelColumn, setLabelColumn] = useState('');
  const [labelType, setLabelType] = useState<'discrete' | 'continuous'>('discrete');
  const [header, setHeader] = useState(true);
  const [minutes, setMinutes] = useState(60);
  const [tags, setTags] = useState('');
  const folder = name || '<name>';
  const body = (): Create => ({
    name,
    project_type: type,
    description,
    // Left empty: the platform's default, the tenant's own area (tenants/<tenant>/<name>/input/, output/).
    input_path: inputPath || undefined,
    output_path: outputPath || undefined,
    training_params: { max_training_duration: minutes },
    tags: tags.split(',').map((t) => t.trim()).filter(Boolean),
    ...(type === 'predictive_analytics'
      ? { label_column: labelColumn || undefined, label_type: labelType, with_column_header: header }
      : {}),
  });
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/projects', { body: body() })),
    onSuccess: (project) => navigate(`/projects/${project.id}`),
  });
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const shown = ['name', 'description', 'input_path', 'output_path', 'label_column', 'label_type', 'tags', 'training_params.max_training_duration'];
  const other = create.error && !shown.some((f) => fields[f]) ? create.error : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };

  return (
    <section>
      <h1>Create Project</h1>
      <form className="card form" onSubmit={submit} noValidate>
        <div className="type-picker" role="radiogroup" aria-label="Project type">
          {(Object.keys(TYPE_TITLE) as ProjectType[]).map((t) => (
            <button type="button" key={t} role="radio" aria-checked={t === type} className={t === type ? 'type selected' : 'type'} onClick={() => setType(t)}>
              <strong>{TYPE_TITLE[t]}</strong>
              <span>{TYPE_HINT[t]}</span>
            </button>
          ))}
        </div>
        <Field label="Name" error={fields.name} hint="Letters, digits, '-' and '_', starting with a letter">
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="flowers" />
        </Field>
        <Field label="Description" error={fields.description}>
          <textarea name="description" value={description} onChange={(e) => setDescription(e.target.value)} rows={2} />
        </Field>
        <Field label="Input dataset path" error={fields.input_path ?? fields.dataset_id} hint={`Object storage folder with the data; empty: ${folder}/input/ in your own storage area (upload files later)`}>
          <input name="input_path" value={inputPath} onChange={(e) => setInputPath(e.target.value)} placeholder={`default: your storage area, ${folder}/input/`} />
        </Field>
        <Field label="Output dataset path" error={fields.output_path} hint="Where dataset versions are written">
          <input name="output_path" value={outputPath} onChange={(e) => setOutputPath(e.target.value)} placeholder={`default: your storage area, ${folder}/output/`} />
        </Field>
        {type === 'predictive_analytics' ? (
          <div className="row">
            <Field label="Label column" error={fields.label_column} hint="The column to predict (default: the last)">
              <input name="label_column" value={labelColumn} onChange={(e) => setLabelColumn(e.target.value)} />
            </Field>
            <Field label="Label type" error={fields.label_type}>
              <select name="label_type" value={labelType} onChange={(e) => setLabelType(e.target.value as 'discrete' | 'continuous')}>
                <option value="discrete">Discrete (classification)</option>
                <option value="continuous">Continuous (regression)</option>
              </select>
            </Field>
            <label className="check">
              <input type="checkbox" checked={header} onChange={(e) => setHeader(e.target.checked)} /> The CSV files have a header row
            </label>
          </div>
        ) : null}
        <div className="row">
          <Field label="Max. training duration (minutes)" error={fields['training_params.max_training_duration']} hint="6–6000">
            <input name="max_training_duration" type="number" value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} />
          </Field>
          <Field label="Tags" error={fields.tags} hint="Comma-separated">
            <input name="tags" value={tags} onChange={(e) => setTags(e.target.value)} />
          </Field>
        </div>
        <ErrorBox error={other} />
        <div className="actions">
          <button type="button" onClick={() => navigate('/projects')}>Cancel</button>
          <button className="primary" disabled={create.isPending}>{create.isPending ? 'Creating…' : 'Create Project'}</button>
        </div>
      </form>
    </section>
  );
}
