import { afterEach, describe, expect, it, vi } from 'vitest';
import { uploadFiles } from './upload';

/** A stand-in XMLHttpRequest answering every POST with one status and body. */
function answer(status: number, body: unknown) {
  class FakeXhr {
    status = status;
    responseText = JSON.stringify(body);
    upload = { onprogress: null as ((e: { loaded: number }) => void) | null };
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    open() {}
    setRequestHeader() {}
    send() {
      queueMicrotask(() => this.onload?.());
    }
  }
  vi.stubGlobal('XMLHttpRequest', FakeXhr);
}

const files = [new File(['a'], 'good.png'), new File(['b'], 'broken.png'), new File(['c'], 'box.png'), new File(['d'], 'box.xml')];

describe('uploadFiles', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('a 207 counts the stored samples and lists the rejected files, not an error', async () => {
    answer(207, {
      success: false,
      samples: [{ sample_id: '1' }, { sample_id: '2' }],
      results: [],
      rejected: [{ file: 'broken.png', rule: 'image_decode', msg: 'not a readable image' }],
      warnings: [{ file: 'box.xml', rule: 'voc_box_outside', msg: 'boxes of car are not inside; the image was imported unlabeled' }],
    });
    const outcome = await uploadFiles('ds', files, () => {});
    expect(outcome.stored).toBe(2);
    expect(outcome.errors).toEqual([{ file: 'broken.png', rule: 'image_decode', msg: 'not a readable image' }]);
    expect(outcome.warnings.map((w) => w.rule)).toEqual(['voc_box_outside']);
  });

  it('a 400 stores nothing and lists every file it names', async () => {
    answer(400, {
      error_code: 'ModelArts.0101',
      error_msg: 'none of the uploaded files is accepted',
      details: [
        { file: 'broken.png', rule: 'image_decode', msg: 'not a readable image' },
        { file: 'box.png', rule: 'pair_rejected', msg: 'not stored: it goes with box.xml' },
      ],
    });
    const outcome = await uploadFiles('ds', files, () => {});
    expect(outcome.stored).toBe(0);
    expect(outcome.errors.map((e) => e.file)).toEqual(['broken.png', 'box.png']);
  });
});
