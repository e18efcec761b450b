/** A sample as the labeling widgets see it. */
export interface Item {
  sample_id: string;
  sample_name: string;
  labels: string[];
  text?: string | null;
  width?: number | null;
  height?: number | null;
}

export interface LabelInfo {
  name: string;
  color?: string | null;
  shortcut?: string | null;
}

export const shortName = (name: string) => name.split('/').pop() ?? name;
