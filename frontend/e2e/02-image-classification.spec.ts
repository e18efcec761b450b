import { expect, test, type Page } from '@playwright/test';
import fs from 'node:fs';
import { addLabels, apiClient, type Created, createProject, file, getJson, labeledCount, openTab, signIn, uploadOnDataTab } from './helpers';

// One project through the guide's whole flow by clicks, then model-assisted labeling with its service.
test.describe.configure({ mode: 'serial' });
let page: Page;
let project: Created;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await signIn(page);
});

test('create: the API validation message shows next to its field', async () => {
  await page.getByRole('button', { name: '+ Create Project' }).click();
  await page.locator('input[name=name]').fill('1-not-a-name');
  await page.getByRole('button', { name: 'Create Project' }).click();
  await expect(page.locator('.field.has-error').filter({ has: page.locator('input[name=name]') })).toContainText('should match pattern');
  project = await createProject(page, /Image Classification/, 'flowers');
});

test('a broken file is refused with its name and rule; then upload and label by keyboard', async () => {
  await page.getByRole('link', { name: 'Data', exact: true }).click();
  await page.getByLabel('Upload files').setInputFiles(file('bad', 'broken.png'));
  await expect(page.getByRole('status').filter({ hasText: 'file(s) stored' })).toContainText('broken.png');
  const images = fs.readdirSync(file('images')).sort();
  await uploadOnDataTab(page, images.map((f) => file('images', f)));
  await openTab(page, 'Labeling');
  await addLabels(page, ['red', 'blue']);
  for (let i = 0; i < images.length; i++) {
    const name = (await page.getByTestId('current-sample').textContent())!;
    const label = name.includes('red') ? 'red' : 'blue';
    await page.keyboard.press(label === 'red' ? '1' : '2');
    await expect(page.getByTestId('current-labels')).toContainText(label);
    if (i < images.length - 1) {
      await page.keyboard.press('ArrowRight');
      await expect(page.getByTestId('current-sample')).not.toHaveText(name);
    }
  }
  const api = await apiClient();
  await expect.poll(() => labeledCount(api, project.datasetId)).toBe(images.length);
});

test('Next, train on a tiny budget, deploy', async () => {
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('button', { name: 'Next', exact: true }).click();
  await expect(page.getByTestId('phase-train')).toContainText(/running|executed/, { timeout: 120_000 });
  await expect(page.getByTestId('phase-deploy_service')).toContainText('awaiting input', { timeout: 240_000 });
  const deploy = page.getByRole('form', { name: 'Deploy' });
  await expect(deploy.getByLabel('weight 0.0.1')).toHaveValue('100');
  await expect(deploy.locator('option', { hasText: 'unavailable' })).toBeDisabled();
  await deploy.getByRole('button', { name: 'Deploy' }).click();
  await expect(page.getByTestId('phase-deploy_service')).toContainText('executed', { timeout: 120_000 });
});

test('training details: per-class metrics, confusion matrix, log', async () => {
  await page.getByRole('link', { name: 'Training' }).click();
  const perClass = page.getByRole('table', { name: 'Per-class metrics' });
  await expect(perClass.getByRole('cell', { name: 'red', exact: true })).toBeVisible();
  await expect(page.locator('.card', { hasText: 'Confusion matrix' }).locator('canvas').first()).toBeVisible();
  await expect(page.getByTestId('training-log')).not.toHaveText('No log yet.');
});

test('predict on the Prediction tab, with the equivalent curl', async () => {
  await page.getByRole('link', { name: 'Prediction' }).click();
  await expect(page.locator('.badge', { hasText: 'running' })).toBeVisible({ timeout: 60_000 });
  await page.getByLabel('Image to predict').setInputFiles(file('more', fs.readdirSync(file('more'))[0]));
  await expect(page.getByTestId('predicted-label')).toHaveText(/^(red|blue)$/);
  await expect(page.getByTestId('curl')).toContainText(`/v1/infers/`);
});

test('model-assisted labeling: pre-label with the service, accept a suggestion', async () => {
  const more = fs.readdirSync(file('more')).sort();
  await uploadOnDataTab(page, more.map((f) => file('more', f)));
  const api = await apiClient();
  const before = await labeledCount(api, project.datasetId);
  await openTab(page, 'Labeling');
  await page.getByRole('button', { name: /Pre-label unlabeled samples/ }).click();
  await page.getByLabel(/Label these first/).check({ timeout: 60_000 });
  const suggestion = page.getByTestId('suggestion');
  await expect(suggestion).toContainText(/Model suggests: (red|blue)/);
  const sample = (await page.getByTestId('current-sample').textContent())!;
  await suggestion.getByRole('button', { name: 'Accept' }).click();
  await expect(page.getByTestId('current-labels')).toContainText(/red|blue/);
  await expect.poll(() => labeledCount(api, project.datasetId)).toBe(before + 1);
  const suggestions = await getJson(api, `/v1/datasets/${project.datasetId}/suggestions`);
  expect(suggestions.items.map((s: { sample_name: string }) => s.sample_name.split('/').pop())).not.toContain(sample);
});
