import { useQuery } from '@tanstack/react-query';
import { sampleBlobUrl, type Sample } from '../api/client';

/** An image sample's picture (fetched with the API key); a sound or a text sample's name or line. */
export function SampleThumb({ datasetId, sample, thumbnail = true }: { datasetId: string; sample: Sample; thumbnail?: boolean }) {
  const isImage = sample.sample_type === 0;
  const url = useQuery({
    queryKey: ['blob', datasetId, sample.sample_id, thumbnail],
    enabled: isImage,
    queryFn: () => sampleBlobUrl(datasetId, sample.sample_id, thumbnail),
    staleTime: Infinity, // the object URL is shared by every view of the sample (never revoked while cached)
  });
  if (isImage) return url.data ? <img src={url.data} alt={sample.sample_name} draggable={false} /> : <div className="thumb-placeholder" />;
  if (sample.text) return <div className="thumb-text">{sample.text}</div>;
  return <div className="thumb-sound">♪ {sample.sample_name.split('/').pop()}</div>;
}
