import { useEffect, useMemo, useRef, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ok, sampleBlobUrl, type Project, type Sample } from '../../api/client';
import { ErrorBox, Pager } from '../../components/ui';
import { ImageClassifier } from '../../labeling/ImageClassifier';
import { BoxEditor } from '../../labeling/BoxEditor';
import { SoundLabeler } from '../../labeling/SoundLabeler';
import { TextLabeler } from '../../labeling/TextLabeler';
import type { Box } from '../../labeling/boxes';
import type { Item, LabelInfo } from '../../labeling/types';
import { LabelsPanel } from './LabelsPanel';
import { PrelabelPanel, SuggestionBar, useSuggestions } from './Suggestions';
import { withSaved, type Saved, type Tab } from './saved';

const PAGE: Record<string, number> = { text_classification: 20, sound_classification: 20 };

function useBlobUrl(datasetId: string, sampleId: string | undefined) {
  const url = useQuery({
    queryKey: ['blob', datasetId, sampleId, false],
    enabled: !!sampleId,
    queryFn: () => sampleBlobUrl(datasetId, sampleId!),
    staleTime: Infinity,
  });
  return url.data ?? null;
}

/** The page of samples being labeled: a snapshot (events do not reshuffle it under the keyboard). */
function usePage(project: Project, tab: Tab, offset: number, limit: number, firstIds: string[] | null, saved: Saved) {
  const ds = { dataset_id: project.dataset_id };
  return useQuery({
    queryKey: ['labeling-page', project.dataset_id, tab, offset, limit, firstIds],
    staleTime: Infinity,
    queryFn: async (): Promise<{ items: Sample[]; total: number }> => {
      if (firstIds) {
        const ids = firstIds.slice(offset, offset + limit);
        const items = await Promise.all(ids.map((id) => ok(api.GET('/v1/datasets/{dataset_id}/samples/{sample_id}', { params: { path: { ...ds, sample_id: id } } }))));
        return withSaved({ items, total: firstIds.length }, 'all', saved);
      }
      const query = { offset, limit, labeled: tab === 'all' ? undefined : tab === 'labeled', sort_by: 'sample_name' as const, order: 'asc' as const };
      return withSaved(await ok(api.GET('/v1/datasets/{dataset_id}/samples', { params: { path: ds, query } })), tab, saved);
    },
  });
}

export function LabelingTab({ project }: { project: Project }) {
  const queryClient = useQueryClient();
  const datasetId = project.dataset_id;
  const type = project.project_type;
  const [tab, setTab] = useState<Tab>('unlabeled');
  const [offset, setOffset] = useState(0);
  const [index, setIndex] = useState(0);
  // "Label these first": the suggested samples, most uncertain first, as they were when it was turned on (a
  // snapshot like any page: accepting a suggestion labels the sample on screen, it does not slide the next in)
  const [firstIds, setFirstIds] = useState<string[] | null>(null);
  const firstMode = firstIds !== null;
  const [error, setError] = useState<unknown>(null);
  const limit = PAGE[type] ?? 24;
  const suggestions = useSuggestions(datasetId);
  const setFirstMode = (on: boolean) => setFirstIds(on ? suggestions.data?.items.map((s) => s.sample_id) ?? [] : null);
  const saved = useRef<Saved>(new Map());
  const page = usePage(project, tab, offset, limit, firstIds, saved.current);
  const labels = useQuery({
    queryKey: ['labels', datasetId],
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/labels', { params: { path: { dataset_id: datasetId } } })),
  });
  const labelInfo: LabelInfo[] = labels.data?.items ?? [];
  const items: Item[] = useMemo(() => page.data?.items ?? [], [page.data]);
  const item = items[Math.min(index, Math.max(0, items.length - 1))];
  const suggestion = suggestions.data?.items.find((s) => s.sample_id === item?.sample_id);
  useEffect(() => setIndex(0), [tab, offset, firstMode]);

  const patchLocal = (sampleId: string, sampleLabels: string[]) => {
    saved.current.set(sampleId, sampleLabels);
    queryClient.setQueryData(['labeling-page', datasetId, tab, offset, limit, firstIds], (old: { items: Sample[]; total: number } | undefined) =>
      old ? { ...old, items: old.items.map((s) => (s.sample_id === sampleId ? { ...s, labels: sampleLabels, labeled: sampleLabels.length > 0 } : s)) } : old);
    ['stats', 'labels', 'suggestions', 'samples'].forEach((k) => queryClient.invalidateQueries({ queryKey: [k] }));
  };
  // saves in flight: a page change waits for them, so that it counts what was labeled on the page
  const pending = useRef(new Set<Promise<void>>());
  const save = (sampleId: string, annotations: { name: string; bndbox?: Box['bndbox'] }[]) => {
    setError(null);
    const done = (async () => {
      try {
        const result = await ok(api.PUT('/v1/datasets/{dataset_id}/annotations/{sample_id}', { params: { path: { dataset_id: datasetId, sample_id: sampleId } }, body: { annotations } }));
        patchLocal(sampleId, result.labels);
      } catch (e) {
        setError(e);
      }
    })();
    pending.current.add(done);
    void done.finally(() => pending.current.delete(done));
    return done;
  };
  const reload = () => queryClient.invalidateQueries({ queryKey: ['labeling-page'] });
  const edge = async (direction: 'prev' | 'next') => {
    const total = page.data?.total ?? 0;
    if (direction === 'next' && tab === 'unlabeled') {
      // the samples labeled on this page have left the filter: the next page starts after those still
      // unlabeled (offset + limit would skip as many unlabeled samples as were just labeled); counted once
      // the saves in flight have answered, on the page as they left it
      await Promise.all([...pending.current]);
      const key = ['labeling-page', datasetId, tab, offset, limit, firstIds];
      const shown = queryClient.getQueryData<{ items: Sample[]; total: number }>(key)?.items ?? items;
      const left = shown.filter((s) => s.labels.length === 0).length;
      if (offset + left < total - (shown.length - left)) {
        await reload(); // the new page first: index 0 of the page just labeled would be a labeled sample
        setOffset(offset + left);
        setIndex(0);
      }
      return;
    }
    if (direction === 'next' && offset + limit < total) setOffset(offset + limit);
    if (direction === 'prev' && offset > 0) setOffset(Math.max(0, offset - limit));
  };
  const switchTab = (t: Tab) => { setTab(t); setOffset(0); setFirstMode(false); };

  const audioUrl = useBlobUrl(datasetId, type === 'sound_classification' ? item?.sample_id : undefined);
  const imageUrl = useBlobUrl(datasetId, type === 'object_detection' ? item?.sample_id : undefined);
  const current = useQuery({
    queryKey: ['annotations', datasetId, item?.sample_id],
    enabled: type === 'object_detection' && !!item,
    queryFn: () => ok(api.GET('/v1/datasets/{dataset_id}/annotations/{sample_id}', { params: { path: { dataset_id: datasetId, sample_id: item!.sample_id } } })),
  });
  const [boxes, setBoxes] = useState<Box[] | null>(null);
  useEffect(() => setBoxes(null), [item?.sample_id]);

  let widget;
  if (type === 'image_classification') {
    widget = (
      <ImageClassifier items={items} index={index} labels={labelInfo} onIndex={setIndex} onEdge={edge}
        onChange={(it, l) => void save(it.sample_id, l.map((name) => ({ name })))}
        renderImage={(it) => <FullImage datasetId={datasetId} sampleId={it.sample_id} name={it.sample_name} />} />
    );
  } else if (type === 'sound_classification') {
    widget = <SoundLabeler items={items} index={index} labels={labelInfo} audioUrl={audioUrl} onIndex={setIndex} onEdge={edge} onLabel={(it, l) => void save(it.sample_id, [{ name: l }])} />;
  } else if (type === 'text_classification') {
    widget = (
      <TextLabeler key={`${tab}-${offset}`} items={items} labels={labelInfo}
        onSave={async (changes) => {
          const samples = Object.entries(changes).map(([sample_id, name]) => ({ sample_id, annotations: [{ name }] }));
          const result = await ok(api.PUT('/v1/datasets/{dataset_id}/annotations', { params: { path: { dataset_id: datasetId } }, body: { samples } }));
          result.samples.forEach((s) => patchLocal(s.sample_id, s.labels));
        }} />
    );
  } else if (item && imageUrl && current.data) {
    const human = current.data.annotations.filter((a) => a.bndbox).map((a, i) => ({ id: `b${i}`, name: a.name, bndbox: a.bndbox as unknown as Box['bndbox'] }));
    const suggested = suggestion?.predictions.filter((p) => p.bndbox).map((p, i) => ({ id: `s${i}`, name: p.name, bndbox: p.bndbox as Box['bndbox'], suggested: true })) ?? [];
    const initial = human.length ? human : suggested;
    widget = (
      <div>
        <BoxEditor key={item.sample_id} imageUrl={imageUrl} width={item.width ?? 100} height={item.height ?? 100} initial={initial} labels={labelInfo} onChange={setBoxes}
          onSave={(drawn) => void save(item.sample_id, drawn.map((b) => ({ name: b.name, bndbox: b.bndbox })))}
          onNavigate={(d) => { const i = d === 'prev' ? index - 1 : index + 1; if (i >= 0 && i < items.length) setIndex(i); else edge(d); }} />
        <p className="muted" data-testid="current-sample">{item.sample_name.split('/').pop()}{boxes !== null ? ' · unsaved changes' : ''}</p>
      </div>
    );
  }

  return (
    <div className="grid-main-side">
      <div className="card">
        <div className="gallery-head">
          <nav className="subtabs">
            {(['unlabeled', 'labeled', 'all'] as Tab[]).map((t) => (
              <button key={t} className={t === tab && !firstMode ? 'on' : ''} onClick={() => switchTab(t)}>
                {t === 'all' ? 'All' : t === 'labeled' ? 'Labeled' : 'Unlabeled'}
              </button>
            ))}
          </nav>
          <button className="link" onClick={() => void reload()}>↻ Refresh</button>
        </div>
        <PrelabelPanel project={project} firstMode={firstMode} onFirstMode={setFirstMode} />
        {suggestion ? <SuggestionBar key={suggestion.sample_id} suggestion={suggestion} datasetId={datasetId} onDone={(l) => l && patchLocal(suggestion.sample_id, l)} /> : null}
        {type !== 'text_classification' && type !== 'sound_classification' ? <Filmstrip datasetId={datasetId} items={items} index={index} onIndex={setIndex} /> : null}
        {items.length ? widget : <p className="empty">{page.isLoading ? 'Loading…' : tab === 'unlabeled' ? 'Every sample is labeled. Go back to the workflow and click Next.' : 'No sample here.'}</p>}
        {page.data ? <Pager offset={offset} limit={limit} total={page.data.total} onChange={setOffset} /> : null}
        <ErrorBox error={error ?? page.error} />
      </div>
      <LabelsPanel datasetId={datasetId} projectType={type} />
    </div>
  );
}

function FullImage({ datasetId, sampleId, name }: { datasetId: string; sampleId: string; name: string }) {
  const url = useBlobUrl(datasetId, sampleId);
  return url ? <img src={url} alt={name} className="full-image" draggable={false} /> : <div className="thumb-placeholder big" />;
}

function Filmstrip({ datasetId, items, index, onIndex }: { datasetId: string; items: Item[]; index: number; onIndex: (i: number) => void }) {
  return (
    <div className="filmstrip">
      {items.map((it, i) => (
        <button key={it.sample_id} className={i === index ? 'frame on' : it.labels.length ? 'frame done' : 'frame'} onClick={() => onIndex(i)} title={it.sample_name}>
          <Thumb datasetId={datasetId} sampleId={it.sample_id} />
        </button>
      ))}
    </div>
  );
}

function Thumb({ datasetId, sampleId }: { datasetId: string; sampleId: string }) {
  const url = useQuery({ queryKey: ['blob', datasetId, sampleId, true], queryFn: () => sampleBlobUrl(datasetId, sampleId, true), staleTime: Infinity });
  return url.data ? <img src={url.data} alt="" draggable={false} /> : <span />;
}
