import { ApiError, authHeaders, type ErrorDetail, type Schemas } from '../../api/client';

/** What an upload did: samples stored, files not stored (each with its rule), stored files' warnings. */
export interface UploadOutcome {
  stored: number;
  errors: ErrorDetail[];
  warnings: ErrorDetail[];
}

type UploadResult = Schemas['dataset_UploadResult'];

const BATCH_BYTES = 7 * 1024 * 1024; // the API takes one upload of at most 8 MB

/** Files in batches under the upload limit, keeping companions (x.jpg + x.txt/x.xml) together. */
export function batches(files: File[]): File[][] {
  const groups = new Map<string, File[]>();
  for (const f of files) {
    const stem = f.name.replace(/(_result)?\.[^.]+$/, '');
    groups.set(stem, [...(groups.get(stem) ?? []), f]);
  }
  const out: File[][] = [];
  let current: File[] = [];
  let size = 0;
  for (const group of groups.values()) {
    const bytes = group.reduce((a, f) => a + f.size, 0);
    if (current.length && size + bytes > BATCH_BYTES) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(...group);
    size += bytes;
  }
  if (current.length) out.push(current);
  return out;
}

/** POST one batch with upload progress (fetch has none, XMLHttpRequest does); 201 or 207 (some files rejected). */
function send(datasetId: string, files: File[], onProgress: (loaded: number) => void): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    files.forEach((f) => form.append('files', f, f.name));
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/v1/datasets/${datasetId}/samples`);
    Object.entries(authHeaders()).forEach(([k, v]) => xhr.setRequestHeader(k, v));
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      let body: unknown = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status < 300) resolve(body as UploadResult);
      else reject(ApiError.from(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload was interrupted'));
    xhr.send(form);
  });
}

export async function uploadFiles(datasetId: string, files: File[], onProgress: (percent: number) => void): Promise<UploadOutcome> {
  const total = files.reduce((a, f) => a + f.size, 0) || 1;
  let done = 0;
  const outcome: UploadOutcome = { stored: 0, errors: [], warnings: [] };
  for (const batch of batches(files)) {
    const bytes = batch.reduce((a, f) => a + f.size, 0);
    try {
      const answer = await send(datasetId, batch, (loaded) => onProgress(((done + Math.min(loaded, bytes)) / total) * 100));
      outcome.stored += answer.samples.length;
      outcome.errors.push(...(answer.rejected ?? []));
      outcome.warnings.push(...(answer.warnings ?? []));
    } catch (err) {
      const e = err as ApiError;
      outcome.errors.push(...(e.details?.length ? e.details : [{ rule: e.code, msg: e.message, file: batch.map((f) => f.name).join(', ') }]));
    }
    done += bytes;
    onProgress((done / total) * 100);
  }
  return outcome;
}
