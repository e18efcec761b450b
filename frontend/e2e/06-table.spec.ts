import { expect, test } from '@playwright/test';
import { createProject, signIn } from './helpers';

test('a table project: data preview with the label column, trained, deployed, a row predicted', async ({ page }) => {
  await signIn(page);
  await page.goto('/projects/new');
  await page.getByRole('radio', { name: /Predictive Analytics/ }).click();
  await expect(page.locator('input[name=label_column]')).toBeVisible();
  await createProject(page, /Predictive Analytics/, 'churn', {
    input_path: process.env.EXEML_E2E_TABLE_PATH ?? '',
    label_column: 'label',
  });
  await page.getByRole('link', { name: 'Data', exact: true }).click();
  await expect(page.getByTestId('label-column')).toHaveText('label');
  await expect(page.locator('th.label-col')).toContainText('label');
  await expect(page.locator('tbody tr').first()).toBeVisible();
  await page.getByRole('link', { name: 'Overview' }).click();
  // A project made from a path may start publishing before its import ends (then Publish fails: Retry).
  const retry = page.getByRole('button', { name: 'Retry' });
  await expect(retry.or(page.getByTestId('phase-check_data').filter({ hasText: /running|executed/ }))).toBeVisible({ timeout: 60_000 });
  if (await retry.isVisible()) await retry.click();
  await expect(page.getByTestId('phase-deploy_service')).toContainText('awaiting input', { timeout: 240_000 });
  await page.getByRole('form', { name: 'Deploy' }).getByRole('button', { name: 'Deploy' }).click();
  await expect(page.getByTestId('phase-deploy_service')).toContainText('executed', { timeout: 120_000 });
  await page.getByRole('link', { name: 'Prediction' }).click();
  await expect(page.locator('.badge', { hasText: 'running' })).toBeVisible({ timeout: 60_000 });
  for (const [name, value] of [['age', '41'], ['income', '52.5'], ['city', 'north'], ['score', '0.3']]) {
    await page.locator(`input[name=${name}]`).fill(value);
  }
  await page.getByRole('button', { name: 'Predict' }).click();
  await expect(page.getByTestId('prediction')).toContainText(/"predict": "(yes|no)"/);
  await expect(page.getByTestId('curl')).toContainText('req_data');
});
