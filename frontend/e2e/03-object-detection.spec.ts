import { expect, test } from '@playwright/test';
import { addLabels, apiClient, createProject, file, getJson, openTab, signIn, uploadOnDataTab } from './helpers';

test('draw a box on a detection sample, then move it', async ({ page }) => {
  await signIn(page);
  const project = await createProject(page, /Object Detection/, 'street');
  await uploadOnDataTab(page, [file('scenes', 'scene_000.png')]);
  await openTab(page, 'Labeling');
  await addLabels(page, ['car']);
  const image = page.getByTestId('box-host').locator('img');
  await expect(image).toBeVisible();
  const area = (await image.boundingBox())!;
  const scale = area.width / 64; // the scene is 64 × 64 pixels
  // Drag from image pixel (10, 10) to (40, 30).
  await page.mouse.move(area.x + 10 * scale, area.y + 10 * scale);
  await page.mouse.down();
  await page.mouse.move(area.x + 25 * scale, area.y + 20 * scale, { steps: 5 });
  await page.mouse.move(area.x + 40 * scale, area.y + 30 * scale, { steps: 5 });
  await page.mouse.up();
  await expect(page.getByTestId('box-count')).toHaveText('1 box(es)');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const api = await apiClient();
  const sampleId = (await getJson(api, `/v1/datasets/${project.datasetId}/samples`)).items[0].sample_id;
  const box = async () => (await getJson(api, `/v1/datasets/${project.datasetId}/annotations/${sampleId}`)).annotations[0]?.bndbox;
  await expect.poll(box).toMatchObject({ xmin: expect.closeTo(10, 0), ymin: expect.closeTo(10, 0), xmax: expect.closeTo(40, 0), ymax: expect.closeTo(30, 0) });

  // Select the box, then move it 12 pixels right by dragging its middle.
  await page.mouse.click(area.x + 25 * scale, area.y + 20 * scale);
  await expect(page.getByLabel('Selected box label')).toHaveValue('car');
  await page.mouse.move(area.x + 25 * scale, area.y + 20 * scale);
  await page.mouse.down();
  await page.mouse.move(area.x + 31 * scale, area.y + 20 * scale, { steps: 5 });
  await page.mouse.move(area.x + 37 * scale, area.y + 20 * scale, { steps: 5 });
  await page.mouse.up();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect.poll(box).toMatchObject({ xmin: expect.closeTo(22, 0), xmax: expect.closeTo(52, 0), ymin: expect.closeTo(10, 0) });
  const annotations = await getJson(api, `/v1/datasets/${project.datasetId}/annotations/${sampleId}`);
  expect(annotations.annotations).toHaveLength(1);
  expect(annotations.labels).toEqual(['car']);
});
