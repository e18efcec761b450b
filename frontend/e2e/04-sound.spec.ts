import { expect, test } from '@playwright/test';
import fs from 'node:fs';
import { apiClient, createProject, file, getJson, openTab, signIn, uploadOnDataTab } from './helpers';

test('label a sound by its shortcut key', async ({ page }) => {
  await signIn(page);
  const project = await createProject(page, /Sound Classification/, 'birds');
  const sounds = fs.readdirSync(file('sounds')).sort();
  await uploadOnDataTab(page, sounds.map((f) => file('sounds', f)));
  await openTab(page, 'Labeling');
  await page.getByLabel('New label', { exact: true }).fill('bark');
  await page.getByLabel('New label shortcut').fill('b');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(page.getByRole('button', { name: /^b\s+bark$/i })).toBeVisible();
  await expect(page.getByTestId('waveform').locator('div').first()).toBeVisible();
  const first = (await page.getByTestId('current-sample').textContent())!;
  await page.keyboard.press('b');
  await expect(page.getByTestId('current-labels')).toHaveText('bark');
  const api = await apiClient();
  const samples = await getJson(api, `/v1/datasets/${project.datasetId}/samples?limit=10`);
  const sample = samples.items.find((s: { sample_name: string }) => s.sample_name.endsWith(first));
  await expect.poll(async () => (await getJson(api, `/v1/datasets/${project.datasetId}/annotations/${sample.sample_id}`)).labels).toEqual(['bark']);
});
